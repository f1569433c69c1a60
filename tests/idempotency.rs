//! Idempotency keys on both databases (SQLite and the MariaDB / MySQL server of
//! tests/common/db.rs): keys compared byte for byte; the same key with the same request is a
//! retry, with another request a 409 naming the key, and nothing is written; two requests
//! racing on one key are settled by the unique index; a database from before request
//! digests upgrades and keeps answering its keys.

use crate::common;

use std::sync::Arc;

use common::db::{Backend, TestDb};
use devicekb::service::tickets::request_hash;
use devicekb::store::{
    Channel, Direction, IdempotencyKey, NewCustomer, NewMessage, NewTicket, Priority, Store,
    TicketFilter,
};
use devicekb::Error;
use sqlx::Connection;

/// `key` sent with a request whose canonical form is `request`.
fn key(key: &str, request: &str) -> IdempotencyKey {
    IdempotencyKey {
        key: key.into(),
        request_hash: request_hash(&request).unwrap(),
    }
}

fn ticket(customer_id: i64, idempotency: IdempotencyKey) -> NewTicket {
    NewTicket {
        customer_id,
        device_id: None,
        subject: "bourrage".into(),
        description: "La C750 affiche 201 Bourrage papier.".into(),
        channel: Channel::Email,
        priority: Priority::Medium,
        priority_given: false,
        idempotency: Some(idempotency),
    }
}

fn message(ticket_id: i64, idempotency: IdempotencyKey) -> NewMessage {
    NewMessage {
        ticket_id,
        customer_id: None,
        direction: Direction::Inbound,
        channel: Channel::Sms,
        subject: None,
        body: "ça bourre encore".into(),
        transcription: None,
        processed: false,
        idempotency: Some(idempotency),
        attachments: Vec::new(),
    }
}

async fn customer(store: &Arc<dyn Store>) -> i64 {
    let c = NewCustomer {
        name: "Cabinet Arnaud".into(),
        ..Default::default()
    };
    store.create_customer(&c).await.unwrap().id
}

async fn ticket_count(store: &Arc<dyn Store>) -> usize {
    let all = TicketFilter {
        limit: 500,
        ..Default::default()
    };
    store.tickets(&all).await.unwrap().len()
}

fn assert_reused(result: Result<impl std::fmt::Debug, Error>, expected: &str) {
    match result {
        Err(Error::IdempotencyKeyReused { key }) => assert_eq!(key, expected),
        other => panic!("expected the key {expected:?} refused, got {other:?}"),
    }
}

async fn keys_are_compared_byte_for_byte(db: &TestDb) {
    let store = &db.store;
    let c = customer(store).await;
    let keys = ["Mail-4711", "mail-4711", "MAIL-4711", "Mail-4711 "];
    let mut tickets = Vec::new();
    for k in keys {
        let (t, created) = store
            .create_ticket(&ticket(c, key(k, "one request")), "api")
            .await
            .unwrap();
        assert!(created, "{k:?} is a key of its own");
        tickets.push(t.id);
    }
    let mut distinct = tickets.clone();
    distinct.sort_unstable();
    distinct.dedup();
    assert_eq!(distinct.len(), keys.len(), "{tickets:?}");
    // Each key finds its own ticket again.
    for (k, id) in keys.iter().zip(&tickets) {
        let (again, created) = store
            .create_ticket(&ticket(c, key(k, "one request")), "api")
            .await
            .unwrap();
        assert_eq!((again.id, created), (*id, false), "{k:?}");
    }
    for k in keys {
        let (_, created) = store
            .add_message(&message(tickets[0], key(k, "one request")))
            .await
            .unwrap();
        assert!(created, "{k:?} is a message key of its own");
    }
    assert_eq!(store.messages(tickets[0]).await.unwrap().len(), keys.len());
}

async fn a_key_answers_its_own_request_only(db: &TestDb) {
    let store = &db.store;
    let c = customer(store).await;
    let (first, created) = store
        .create_ticket(&ticket(c, key("Mail-4711", "A")), "api")
        .await
        .unwrap();
    assert!(created);
    let (again, created) = store
        .create_ticket(&ticket(c, key("Mail-4711", "A")), "api")
        .await
        .unwrap();
    assert_eq!((again.id, created), (first.id, false));
    let refused = store
        .create_ticket(&ticket(c, key("Mail-4711", "B")), "api")
        .await;
    let detail = refused.as_ref().unwrap_err().to_string();
    assert_eq!(
        detail,
        r#"idempotency key "Mail-4711" was already used for a different request"#
    );
    assert_reused(refused, "Mail-4711");
    assert_eq!(ticket_count(store).await, 1, "nothing written");
    assert_eq!(store.history(first.id).await.unwrap().len(), 1);

    let (m, created) = store
        .add_message(&message(first.id, key("Sms-1", "A")))
        .await
        .unwrap();
    assert!(created);
    let (again, created) = store
        .add_message(&message(first.id, key("Sms-1", "A")))
        .await
        .unwrap();
    assert_eq!((again.id, created), (m.id, false));
    assert_reused(
        store
            .add_message(&message(first.id, key("Sms-1", "B")))
            .await,
        "Sms-1",
    );
    assert_reused(store.message_by_key(&key("Sms-1", "B")).await, "Sms-1");
    let found = store.message_by_key(&key("Sms-1", "A")).await.unwrap();
    assert_eq!(found.map(|m| m.id), Some(m.id));
    assert_eq!(
        store.messages(first.id).await.unwrap().len(),
        1,
        "nothing written"
    );
}

async fn concurrent_requests_with_one_key(db: &TestDb) {
    const N: usize = 6;
    let store = &db.store;
    let c = customer(store).await;
    // The same request N times at once: one ticket, every answer names it.
    let same: Vec<_> = (0..N)
        .map(|_| {
            let store = store.clone();
            tokio::spawn(async move {
                store
                    .create_ticket(&ticket(c, key("Mail-1", "A")), "api")
                    .await
            })
        })
        .collect();
    let mut answers = Vec::new();
    for task in same {
        answers.push(
            task.await
                .unwrap()
                .expect("a retry is answered, never an error"),
        );
    }
    assert_eq!(answers.iter().filter(|(_, created)| *created).count(), 1);
    assert!(answers.iter().all(|(t, _)| t.id == answers[0].0.id));
    // N different requests at once: one wins, the others are refused naming the key.
    let different: Vec<_> = (0..N)
        .map(|i| {
            let store = store.clone();
            tokio::spawn(async move {
                store
                    .create_ticket(&ticket(c, key("Mail-2", &format!("request {i}"))), "api")
                    .await
            })
        })
        .collect();
    let mut created = 0;
    for task in different {
        match task.await.unwrap() {
            Ok((_, true)) => created += 1,
            refused => assert_reused(refused, "Mail-2"),
        }
    }
    assert_eq!(created, 1);
    assert_eq!(ticket_count(store).await, 2);

    let t = answers[0].0.id;
    let messages: Vec<_> = (0..N)
        .map(|i| {
            let store = store.clone();
            // Half send the same request, half others.
            let request = if i % 2 == 0 {
                "A".to_string()
            } else {
                format!("other {i}")
            };
            tokio::spawn(async move {
                let sent = store.add_message(&message(t, key("Sms-1", &request))).await;
                (request, sent)
            })
        })
        .collect();
    let mut outcomes = Vec::new();
    for task in messages {
        outcomes.push(task.await.unwrap());
    }
    let winner = outcomes
        .iter()
        .find_map(|(request, sent)| match sent {
            Ok((_, true)) => Some(request.clone()),
            _ => None,
        })
        .expect("one request stored its message");
    // Whoever sent the winner's request got its message; the others were refused.
    for (request, sent) in outcomes {
        match sent {
            Ok(_) => assert_eq!(request, winner),
            refused => {
                assert_ne!(request, winner);
                assert_reused(refused, "Sms-1");
            }
        }
    }
    assert_eq!(store.messages(t).await.unwrap().len(), 1);
}

macro_rules! both {
    ($name:ident) => {
        mod $name {
            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn sqlite() {
                let db = super::TestDb::sqlite().await;
                super::$name(&db).await;
                db.drop_db().await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn mysql() {
                let db = super::TestDb::mysql().await;
                super::$name(&db).await;
                db.drop_db().await;
            }
        }
    };
}

both!(keys_are_compared_byte_for_byte);
both!(a_key_answers_its_own_request_only);
both!(concurrent_requests_with_one_key);

/// Waits until `n` inserts into this database are under way at once: with the keys held by
/// an open transaction, they are waiting for it. (The server's process list is the test:
/// MariaDB's INNODB_TRX marks only some of the waiting transactions LOCK WAIT.)
async fn inserts_waiting(db: &TestDb, n: i64) {
    let mut conn = sqlx::MySqlConnection::connect(&db.url).await.unwrap();
    for _ in 0..200 {
        let waiting: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM information_schema.PROCESSLIST \
             WHERE DB = DATABASE() AND INFO LIKE 'INSERT INTO %'",
        )
        .fetch_one(&mut conn)
        .await
        .unwrap();
        if waiting >= n {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    panic!("the store's inserts never waited for the keys held by the other transaction");
}

/// On MySQL the loser of a race sees no row when it checks (the winner has not committed),
/// waits on the unique index at its insert, and is refused by it once the winner commits:
/// it must then answer from the winner's row. SQLite takes its write lock before the check
/// (BEGIN IMMEDIATE), so there the check itself sees the winner (covered above).
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn mysql_the_unique_index_settles_a_race() {
    let db = TestDb::mysql().await;
    let store = db.store.clone();
    let c = customer(&store).await;
    let (t, _) = store
        .create_ticket(&ticket(c, key("first", "A")), "api")
        .await
        .unwrap();

    // Another request holds the keys: its rows are written, not yet committed.
    let mut winner = sqlx::MySqlConnection::connect(&db.url).await.unwrap();
    let mut tx = winner.begin().await.unwrap();
    let held = key("Mail-4711", "A");
    let won_ticket = sqlx::query(
        "INSERT INTO tickets (customer_id, subject, description, idempotency_key, request_hash) \
         VALUES (?, 'bourrage', 'x', ?, ?)",
    )
    .bind(c)
    .bind(&held.key)
    .bind(&held.request_hash)
    .execute(&mut *tx)
    .await
    .unwrap()
    .last_insert_id() as i64;
    let won_message = sqlx::query(
        "INSERT INTO messages (ticket_id, direction, channel, body, idempotency_key, request_hash) \
         VALUES (?, 'inbound', 'sms', 'x', 'Sms-1', ?)",
    )
    .bind(t.id)
    .bind(&held.request_hash)
    .execute(&mut *tx)
    .await
    .unwrap()
    .last_insert_id() as i64;

    let racing = |k: IdempotencyKey| {
        let store = store.clone();
        tokio::spawn(async move { store.create_ticket(&ticket(c, k), "api").await })
    };
    let on_ticket = t.id;
    let racing_message = |k: IdempotencyKey| {
        let store = store.clone();
        tokio::spawn(async move { store.add_message(&message(on_ticket, k)).await })
    };
    let same = racing(key("Mail-4711", "A"));
    let other = racing(key("Mail-4711", "B"));
    let same_message = racing_message(key("Sms-1", "A"));
    let other_message = racing_message(key("Sms-1", "B"));
    inserts_waiting(&db, 4).await;
    tx.commit().await.unwrap();

    let (answer, created) = same.await.unwrap().expect("the loser answers, not a 500");
    assert_eq!((answer.id, created), (won_ticket, false));
    assert_reused(other.await.unwrap(), "Mail-4711");
    let (answer, created) = same_message.await.unwrap().unwrap();
    assert_eq!((answer.id, created), (won_message, false));
    assert_reused(other_message.await.unwrap(), "Sms-1");
    assert_eq!(ticket_count(&store).await, 2);
    assert_eq!(store.messages(t.id).await.unwrap().len(), 1);
    db.drop_db().await;
}

/// Rows as the release before request digests wrote them (migration 0001 only).
const OLD_ROWS: &[&str] = &[
    "INSERT INTO customers (id, name) VALUES (1, 'Cabinet Arnaud')",
    "INSERT INTO tickets (id, customer_id, subject, description, idempotency_key) \
     VALUES (1, 1, 'bourrage', 'La C750 affiche 201.', 'Mail-4711')",
    "INSERT INTO ticket_history (ticket_id, to_status, actor) VALUES (1, 'new', 'api')",
    "INSERT INTO messages (ticket_id, customer_id, direction, channel, body, idempotency_key) \
     VALUES (1, 1, 'inbound', 'sms', 'ça bourre', 'Sms-1')",
];

async fn an_existing_database_upgrades(backend: Backend) {
    let db = TestDb::upgraded(backend, 1, OLD_ROWS).await;
    let store = &db.store;
    // Its keys carry no digest: a retry is answered by the key alone, as before.
    let (old, created) = store
        .create_ticket(&ticket(1, key("Mail-4711", "any request")), "api")
        .await
        .unwrap();
    assert_eq!((old.id, created), (1, false));
    // Whether its client chose its priority was not recorded: counted as chosen (kept).
    assert!(old.priority_given);
    let found = store.message_by_key(&key("Sms-1", "any")).await.unwrap();
    assert_eq!(found.map(|m| m.ticket_id), Some(Some(1)));
    // Keys are exact now, on the old rows too (MySQL compared them without case before).
    let (new, created) = store
        .create_ticket(&ticket(1, key("mail-4711", "A")), "api")
        .await
        .unwrap();
    assert!(created && new.id != 1);
    assert!(!new.priority_given);
    let (_, created) = store
        .add_message(&message(1, key("sms-1", "A")))
        .await
        .unwrap();
    assert!(created);
    // New rows keep their request's digest.
    assert_reused(
        store
            .create_ticket(&ticket(1, key("mail-4711", "B")), "api")
            .await,
        "mail-4711",
    );
    assert_reused(
        store.add_message(&message(1, key("sms-1", "B"))).await,
        "sms-1",
    );
    db.drop_db().await;
}

#[tokio::test]
async fn an_existing_sqlite_database_upgrades() {
    an_existing_database_upgrades(Backend::Sqlite).await;
}

#[tokio::test]
async fn an_existing_mysql_database_upgrades() {
    an_existing_database_upgrades(Backend::Mysql).await;
}
