//! One store test suite, run against SQLite (a temporary file) and against the MariaDB /
//! MySQL server at `DEVICEKB_TEST_MYSQL_URL` (default `mysql://root@127.0.0.1:3306`, as on
//! the CI machines): a fresh database per test, dropped afterwards.

use std::sync::Arc;

use devicekb::store::{
    self, Channel, ExtractionRecord, IdempotencyKey, NewCustomer, NewTicket, Priority,
    ResponderKind, SendStatus, Status, StepStatus, Store, TicketFilter, TicketOrder,
};
use devicekb::Error;

use crate::common;

use common::db::TestDb;

// Under tests/store/: a plain `mod` would name the sibling test file.
#[path = "store/with_devices.rs"]
mod with_devices;

use with_devices::{conversation_round_trip, devices_round_trip, figures_round_trip};

fn customer(name: &str, email: Option<&str>) -> NewCustomer {
    NewCustomer {
        name: name.into(),
        email: email.map(str::to_string),
        ..Default::default()
    }
}

fn ticket(customer_id: i64, subject: &str) -> NewTicket {
    NewTicket {
        customer_id,
        device_id: None,
        subject: subject.into(),
        description: "la C750 affiche 88".into(),
        channel: Channel::Email,
        priority: Priority::Medium,
        priority_given: false,
        idempotency: None,
    }
}

fn key(key: &str, request_hash: char) -> IdempotencyKey {
    IdempotencyKey {
        key: key.into(),
        request_hash: request_hash.to_string().repeat(64),
    }
}

async fn customers_round_trip(store: Arc<dyn Store>) {
    let a = store
        .create_customer(&customer("Cabinet Arnaud", Some("contact@arnaud.fr")))
        .await
        .unwrap();
    assert_eq!(a.name, "Cabinet Arnaud");
    assert!(
        a.created_at.ends_with('Z') && a.created_at.len() == 24,
        "{}",
        a.created_at
    );
    assert_eq!(store.customer(a.id).await.unwrap(), Some(a.clone()));
    assert_eq!(store.customer(a.id + 1000).await.unwrap(), None);
    let err = store
        .create_customer(&customer("Autre", Some("contact@arnaud.fr")))
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Conflict(_)), "{err}");
    store
        .create_customer(&customer("Sans e-mail", None))
        .await
        .unwrap();
    store
        .create_customer(&customer("Sans e-mail non plus", None))
        .await
        .unwrap();
    assert_eq!(store.customers(10).await.unwrap().len(), 3);
    // Text is stored as given: accents, quotes, SQL-looking input.
    let odd = store
        .create_customer(&customer("L'Équipe'); DROP TABLE tickets; --", None))
        .await
        .unwrap();
    assert_eq!(
        store.customer(odd.id).await.unwrap().unwrap().name,
        "L'Équipe'); DROP TABLE tickets; --"
    );
}

async fn tickets_history_and_idempotency(store: Arc<dyn Store>) {
    let c = store
        .create_customer(&customer("Pharmacie du Centre", None))
        .await
        .unwrap();
    let (t, created) = store
        .create_ticket(&ticket(c.id, "88 toner cyan"), "api")
        .await
        .unwrap();
    assert!(created);
    assert_eq!(
        (t.status, t.priority, t.channel),
        (Status::New, Priority::Medium, Channel::Email)
    );
    assert_eq!(t.closed_at, None);

    // Unknown references are named.
    let err = store
        .create_ticket(&ticket(c.id + 999, "x"), "api")
        .await
        .unwrap_err();
    assert!(
        matches!(&err, Error::NotFound { what, .. } if what == "customer_id"),
        "{err}"
    );
    let mut with_device = ticket(c.id, "x");
    with_device.device_id = Some(4242);
    let err = store.create_ticket(&with_device, "api").await.unwrap_err();
    assert!(
        matches!(&err, Error::NotFound { what, .. } if what == "device_id"),
        "{err}"
    );

    // A retried submission returns the same ticket and writes nothing more.
    let mut keyed = ticket(c.id, "bourrage 201");
    keyed.idempotency = Some(key("req-123", 'a'));
    let (first, created) = store.create_ticket(&keyed, "api").await.unwrap();
    assert!(created);
    let (again, created) = store.create_ticket(&keyed, "api").await.unwrap();
    assert!(!created);
    assert_eq!(again.id, first.id);
    assert_eq!(store.history(first.id).await.unwrap().len(), 1);

    // Status changes are recorded with who made them.
    let escalated = store
        .set_status(
            t.id,
            Status::Escalated,
            Some("low_confidence"),
            "pipeline",
            Some("best entry 0.41"),
        )
        .await
        .unwrap();
    assert_eq!(
        escalated.escalation_reason.as_deref(),
        Some("low_confidence")
    );
    let closed = store
        .set_status(t.id, Status::Closed, None, "agent:marie", None)
        .await
        .unwrap();
    assert_eq!(closed.status, Status::Closed);
    assert_eq!(
        closed.escalation_reason.as_deref(),
        Some("low_confidence"),
        "kept"
    );
    assert!(closed.closed_at.is_some());
    let history = store.history(t.id).await.unwrap();
    let steps: Vec<_> = history
        .iter()
        .map(|h| (h.from_status, h.to_status, h.actor.as_str()))
        .collect();
    assert_eq!(
        steps,
        vec![
            (None, Status::New, "api"),
            (Some(Status::New), Status::Escalated, "pipeline"),
            (Some(Status::Escalated), Status::Closed, "agent:marie"),
        ]
    );
    let err = store
        .set_status(999_999, Status::Open, None, "x", None)
        .await
        .unwrap_err();
    assert!(matches!(err, Error::NotFound { .. }));

    // Filters and limit.
    let all = store
        .tickets(&TicketFilter {
            limit: 500,
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(all.len(), 2);
    let new = store
        .tickets(&TicketFilter {
            status: Some(Status::New),
            limit: 10,
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(new.iter().map(|t| t.id).collect::<Vec<_>>(), vec![first.id]);
    let one = store
        .tickets(&TicketFilter {
            limit: 1,
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(one.len(), 1);
    let none = store
        .tickets(&TicketFilter {
            priority: Some(Priority::Critical),
            limit: 10,
            ..Default::default()
        })
        .await
        .unwrap();
    assert!(none.is_empty());
}

async fn pipeline_records_round_trip(store: Arc<dyn Store>) {
    use devicekb::store::{ExtractionRecord, RagRecord, ResponseRecord, StepRecord};
    use serde_json::json;
    let c = store
        .create_customer(&customer("Mairie", None))
        .await
        .unwrap();
    let (t, _) = store
        .create_ticket(&ticket(c.id, "88"), "api")
        .await
        .unwrap();
    store
        .add_extraction(
            t.id,
            &ExtractionRecord {
                source: "devicekb".into(),
                message_id: None,
                model: Some("Lexmark C750".into()),
                manufacturer: Some("Lexmark".into()),
                error_codes: json!(["88"]),
                serial: None,
                entities: json!([{"kind": "model", "value": "C750", "start": 3, "end": 7}]),
            },
        )
        .await
        .unwrap();
    store
        .add_rag_result(
            t.id,
            &RagRecord {
                query: "la C750 affiche 88".into(),
                mode: "hybrid".into(),
                generation: "gen-000001".into(),
                results: json!([{"kb_id": "a", "relevance": 0.75}]),
            },
        )
        .await
        .unwrap();
    store
        .add_response(
            t.id,
            &ResponseRecord {
                responder: ResponderKind::Auto,
                author: Some("extractive".into()),
                body: "Bonjour,\n1. Faire ceci.".into(),
                citations: json!(["a"]),
                confidence: Some(0.75),
                send_status: SendStatus::Pending,
                llm_model: None,
                prompt_tokens: Some(321),
                completion_tokens: None,
                latency_ms: None,
            },
        )
        .await
        .unwrap();
    for (step, status) in [
        ("ingestion", StepStatus::Ok),
        ("retrieval", StepStatus::Failed),
    ] {
        store
            .add_step(
                t.id,
                &StepRecord {
                    step: step.into(),
                    status,
                    duration_ms: 1.5,
                    error: None,
                },
            )
            .await
            .unwrap();
    }
    let bad = StepRecord {
        step: "teleportation".into(),
        status: StepStatus::Ok,
        duration_ms: 1.0,
        error: None,
    };
    assert!(
        store.add_step(t.id, &bad).await.is_err(),
        "the schema refuses an unknown step"
    );
    let rows = store.pipeline(t.id).await.unwrap();
    assert_eq!(rows.extractions[0].record.error_codes, json!(["88"]));
    assert_eq!(rows.extractions[0].record.entities[0]["value"], "C750");
    assert_eq!(
        rows.rag_result.as_ref().unwrap().record.results[0]["relevance"],
        0.75
    );
    assert_eq!(rows.responses[0].record.body, "Bonjour,\n1. Faire ceci.");
    assert_eq!(rows.responses[0].record.prompt_tokens, Some(321));
    assert_eq!(
        rows.steps
            .iter()
            .map(|s| s.record.step.as_str())
            .collect::<Vec<_>>(),
        vec!["ingestion", "retrieval"]
    );
    assert!(store.pipeline(t.id + 1000).await.unwrap().steps.is_empty());
}

/// The work queue: escalated first, then waiting (by priority, oldest first), then handled
/// (newest first); the model and retention filters read what the ticket page shows.
async fn queue_order_and_filters(store: Arc<dyn Store>) {
    let c = store
        .create_customer(&customer("Atelier Morel", None))
        .await
        .unwrap();
    let mut made = Vec::new();
    for (subject, priority) in [
        ("answered-old", Priority::High),
        ("waiting-medium", Priority::Medium),
        ("escalated", Priority::Low),
        ("waiting-critical", Priority::Critical),
        ("answered-new", Priority::Low),
    ] {
        let mut t = ticket(c.id, subject);
        t.priority = priority;
        made.push(store.create_ticket(&t, "api").await.unwrap().0);
    }
    let id = |subject: &str| made.iter().find(|t| t.subject == subject).unwrap().id;
    for subject in ["answered-old", "answered-new"] {
        store
            .set_status(id(subject), Status::Answered, None, "agent", None)
            .await
            .unwrap();
    }
    store
        .set_status(
            id("escalated"),
            Status::Escalated,
            Some("low_confidence"),
            "pipeline",
            None,
        )
        .await
        .unwrap();
    store
        .classify_ticket(id("waiting-medium"), Some("commande"), None, true, None)
        .await
        .unwrap();
    store
        .add_extraction(
            id("waiting-critical"),
            &ExtractionRecord {
                source: "devicekb".into(),
                message_id: None,
                model: Some("Lexmark C750".into()),
                manufacturer: None,
                error_codes: serde_json::json!([]),
                serial: None,
                entities: serde_json::json!([]),
            },
        )
        .await
        .unwrap();
    let list = |filter: TicketFilter| {
        let store = store.clone();
        async move {
            store
                .tickets(&TicketFilter {
                    limit: 50,
                    ..filter
                })
                .await
                .unwrap()
                .into_iter()
                .map(|t| t.subject)
                .collect::<Vec<_>>()
        }
    };
    let queue = list(TicketFilter {
        order: TicketOrder::Queue,
        ..Default::default()
    })
    .await;
    assert_eq!(
        queue,
        vec![
            "escalated",
            "waiting-critical",
            "waiting-medium",
            "answered-new",
            "answered-old"
        ]
    );
    let model = list(TicketFilter {
        model: Some("Lexmark C750".into()),
        ..Default::default()
    })
    .await;
    assert_eq!(model, vec!["waiting-critical"]);
    let stored = store.ticket(id("waiting-critical")).await.unwrap().unwrap();
    assert_eq!(stored.model.as_deref(), Some("Lexmark C750"));
    let flagged = list(TicketFilter {
        retention_flag: Some(true),
        ..Default::default()
    })
    .await;
    assert_eq!(flagged, vec!["waiting-medium"]);
    let not_flagged = list(TicketFilter {
        retention_flag: Some(false),
        ..Default::default()
    })
    .await;
    assert_eq!(not_flagged.len(), 4);
}

macro_rules! both {
    ($name:ident) => {
        mod $name {
            #[tokio::test]
            async fn sqlite() {
                let db = super::TestDb::sqlite().await;
                assert_eq!(db.store.backend(), "sqlite");
                super::$name(db.store.clone()).await;
                db.drop_db().await;
            }

            #[tokio::test]
            async fn mysql() {
                let db = super::TestDb::mysql().await;
                assert_eq!(db.store.backend(), "mysql");
                super::$name(db.store.clone()).await;
                db.drop_db().await;
            }
        }
    };
}

/// Replies that confirmed entries (or showed they did not answer), with their ticket's
/// first customer message: agents' sent replies and rated automatic ones, with their
/// rating; drafts and unrated automatic replies are not.
async fn confirmed_replies_round_trip(store: Arc<dyn Store>) {
    use devicekb::store::{Direction, NewMessage, ResponseRecord};
    use serde_json::json;
    let c = store
        .create_customer(&customer("Cabinet Roux", None))
        .await
        .unwrap();
    let response = |responder, citations: serde_json::Value, send_status| ResponseRecord {
        responder,
        author: None,
        body: "voir la fiche".into(),
        citations,
        confidence: None,
        send_status,
        llm_model: None,
        prompt_tokens: None,
        completion_tokens: None,
        latency_ms: None,
    };
    let mut tickets = Vec::new();
    for (i, subject) in ["Bourrage", "Toner", "Brouillon", "Pas utile", "Sans avis"]
        .iter()
        .enumerate()
    {
        let (t, _) = store
            .create_ticket(&ticket(c.id, subject), "api")
            .await
            .unwrap();
        for body in [format!("premier message {i}"), "relance".to_string()] {
            store
                .add_message(&NewMessage {
                    ticket_id: t.id,
                    customer_id: Some(c.id),
                    direction: Direction::Inbound,
                    channel: Channel::Email,
                    subject: Some(subject.to_string()),
                    body,
                    transcription: None,
                    processed: true,
                    idempotency: None,
                    attachments: Vec::new(),
                })
                .await
                .unwrap();
        }
        tickets.push(t.id);
    }
    // Per ticket: who replied, citing what, sent or drafted, and the customer's rating.
    let replies = [
        (
            ResponderKind::Agent,
            json!(["jam-tray-2"]),
            SendStatus::Sent,
            None,
        ),
        (
            ResponderKind::Auto,
            json!(["toner-low"]),
            SendStatus::Sent,
            Some(true),
        ),
        (ResponderKind::Agent, json!(["x"]), SendStatus::Draft, None),
        (
            ResponderKind::Auto,
            json!(["y"]),
            SendStatus::Sent,
            Some(false),
        ),
        (ResponderKind::Auto, json!(["z"]), SendStatus::Sent, None),
    ];
    // What the unhelpful reply's retrieval found, with each entry's version.
    let retrieved = json!([{"kb_id": "y", "relevance": 0.8, "content_hash": "ab12"}]);
    store
        .add_rag_result(
            tickets[3],
            &devicekb::store::RagRecord {
                query: "premier message 3".into(),
                mode: "hybrid".into(),
                generation: "g1".into(),
                results: retrieved.clone(),
            },
        )
        .await
        .unwrap();
    for (&id, (responder, citations, status, rating)) in tickets.iter().zip(replies) {
        store
            .add_response(id, &response(responder, citations, status))
            .await
            .unwrap();
        if let Some(helpful) = rating {
            let comment = (!helpful).then_some("rien à voir");
            store.set_feedback(id, helpful, comment).await.unwrap();
        }
    }

    let confirmed = store.confirmed_replies(100).await.unwrap();
    assert_eq!(confirmed.len(), 3, "{confirmed:?}");
    assert_eq!(confirmed[0].ticket_id, tickets[0]);
    assert_eq!(confirmed[0].responder, ResponderKind::Agent);
    assert_eq!(confirmed[0].citations, json!(["jam-tray-2"]));
    assert_eq!(confirmed[0].body, "premier message 0");
    assert_eq!(confirmed[0].subject.as_deref(), Some("Bourrage"));
    assert_eq!(confirmed[1].ticket_id, tickets[1]);
    assert_eq!(confirmed[1].responder, ResponderKind::Auto);
    let ratings: Vec<Option<i64>> = confirmed.iter().map(|r| r.helpful).collect();
    assert_eq!(ratings, [None, Some(1), Some(0)]);
    assert_eq!(confirmed[2].ticket_id, tickets[3]);
    assert_eq!(confirmed[2].citations, json!(["y"]));
    assert_eq!(confirmed[2].retrieved, retrieved);
    assert_eq!(confirmed[0].retrieved, json!([]));
    assert_eq!(store.confirmed_replies(1).await.unwrap().len(), 1);
}

both!(customers_round_trip);
both!(tickets_history_and_idempotency);
both!(pipeline_records_round_trip);
both!(devices_round_trip);
both!(conversation_round_trip);
both!(figures_round_trip);
both!(queue_order_and_filters);
both!(confirmed_replies_round_trip);

/// The views over tickets and messages show every column of their table, also after a
/// migration added some: MySQL fixes a view's `*` when the view is created.
async fn views_show_every_column(db: &TestDb) {
    for (view, table, added) in [
        ("actionable_tickets", "tickets", vec!["priority_rank"]),
        ("unprocessed_messages", "messages", vec![]),
    ] {
        let mut expected = db.columns(table).await;
        assert!(!expected.is_empty(), "{table} has columns");
        expected.extend(added.into_iter().map(str::to_string));
        assert_eq!(db.columns(view).await, expected, "{view}");
    }
    assert!(db
        .columns("actionable_tickets")
        .await
        .contains(&"priority_given".to_string()));
}

#[tokio::test]
async fn views_show_every_column_on_sqlite() {
    let db = TestDb::sqlite().await;
    views_show_every_column(&db).await;
    db.drop_db().await;
}

#[tokio::test]
async fn views_show_every_column_on_mysql() {
    let db = TestDb::mysql().await;
    views_show_every_column(&db).await;
    db.drop_db().await;
}

#[test]
fn enumerations_list_their_values() {
    let err = Status::parse("done").unwrap_err();
    assert!(
        err.to_string()
            .contains("new, open, in_progress, auto_resolved, escalated, answered, closed"),
        "{err}"
    );
    assert!(matches!(
        Priority::parse("urgent"),
        Err(Error::Rejected { .. })
    ));
}

#[tokio::test]
async fn an_unreachable_database_is_unavailable_not_internal() {
    let err = store::connect("mysql://root@127.0.0.1:1/nothing")
        .await
        .err()
        .expect("no server there");
    assert!(matches!(err, Error::StorageUnavailable(_)), "{err}");
    let err = store::connect("postgres://x").await.err().unwrap();
    assert!(matches!(err, Error::Config(_)), "{err}");
}
