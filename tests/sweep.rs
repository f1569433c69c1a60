//! Nothing stuck: tickets whose pipeline did not finish are resumed (no step recorded) or
//! escalated `step_failed` (some steps recorded), on both databases; fresh tickets are left
//! to their pipeline; two servers on one MariaDB handle a stalled ticket exactly once.

use crate::common;

use std::sync::Arc;

use common::db::{Backend, TestDb};
use devicekb::service::Service;
use devicekb::store::{
    Channel, LateClassification, NewCustomer, NewTicket, PredictionRecord, Priority, Status,
    StepRecord, StepStatus, Store, Ticket,
};

fn keep(id: &str) -> bool {
    id.starts_with("lexmark-c750-jam-2") || id == "lexmark-c750-msg-88-toner-bas"
}

async fn service_on(kb: &std::path::Path, data: &std::path::Path, url: &str) -> Arc<Service> {
    let url = url.to_string();
    let service = common::start_service_with(kb, data, move |c| c.database_url = url).await;
    common::warm(&service).await;
    service
}

/// A ticket as a server that died right after storing it leaves it: `new`, no step.
async fn stored_ticket(store: &dyn Store, customer_id: i64, text: &str) -> Ticket {
    stored_ticket_with(store, customer_id, text, None).await
}

/// The same, with the priority the client chose, if any.
async fn stored_ticket_with(
    store: &dyn Store,
    customer_id: i64,
    text: &str,
    chosen: Option<Priority>,
) -> Ticket {
    store
        .create_ticket(
            &NewTicket {
                customer_id,
                device_id: None,
                subject: "Imprimante".into(),
                description: text.into(),
                channel: Channel::Email,
                priority: chosen.unwrap_or(Priority::Medium),
                priority_given: chosen.is_some(),
                idempotency: None,
            },
            "test",
        )
        .await
        .unwrap()
        .0
}

async fn customer(store: &dyn Store) -> i64 {
    store
        .create_customer(&NewCustomer {
            name: "Cabinet Arnaud".into(),
            ..NewCustomer::default()
        })
        .await
        .unwrap()
        .id
}

async fn stalled_tickets_are_resumed_or_escalated(db: TestDb) {
    let kb = common::small_kb(keep);
    let data = tempfile::tempdir().unwrap();
    let service = service_on(kb.path(), data.path(), &db.url).await;
    let store = service.desk.store().unwrap();
    let customer = customer(store.as_ref()).await;
    let untouched = stored_ticket(
        store.as_ref(),
        customer,
        "Bourrage papier dans le bac 2 de ma C750.",
    )
    .await;
    let half_way = stored_ticket(
        store.as_ref(),
        customer,
        "Ma C750 affiche 88 toner cyan bas.",
    )
    .await;
    store
        .add_step(
            half_way.id,
            &StepRecord {
                step: "extraction".into(),
                status: StepStatus::Ok,
                duration_ms: 1.0,
                error: None,
            },
        )
        .await
        .unwrap();

    // Within the grace period nothing is touched: the pipeline may still be running.
    let swept = service.desk.sweep_stalled().await.unwrap();
    assert_eq!((swept.resumed, swept.escalated), (0, 0));
    let fresh = store.ticket(untouched.id).await.unwrap().unwrap();
    assert_eq!(fresh.status, Status::New);

    tokio::time::sleep(std::time::Duration::from_millis(1_100)).await;
    let swept = service.desk.sweep_stalled_after(1).await.unwrap();
    assert_eq!((swept.resumed, swept.escalated), (1, 1), "{swept:?}");
    let resumed = store.ticket(untouched.id).await.unwrap().unwrap();
    assert_ne!(resumed.status, Status::New, "the pipeline ran on it");
    assert!(!store.pipeline(untouched.id).await.unwrap().steps.is_empty());
    let escalated = store.ticket(half_way.id).await.unwrap().unwrap();
    assert_eq!(escalated.status, Status::Escalated);
    assert_eq!(escalated.escalation_reason.as_deref(), Some("step_failed"));
    let history = store.history(half_way.id).await.unwrap();
    assert!(history.iter().any(|h| h.actor == "sweep"), "{history:?}");

    // Handled once: a second sweep finds nothing.
    let again = service.desk.sweep_stalled_after(1).await.unwrap();
    assert_eq!((again.resumed, again.escalated), (0, 0));
    db.drop_db().await;
}

#[tokio::test]
async fn stalled_tickets_are_resumed_or_escalated_on_sqlite() {
    stalled_tickets_are_resumed_or_escalated(TestDb::sqlite().await).await;
}

#[tokio::test]
async fn stalled_tickets_are_resumed_or_escalated_on_mariadb() {
    stalled_tickets_are_resumed_or_escalated(TestDb::mysql().await).await;
}

#[tokio::test]
async fn two_servers_on_one_mariadb_resume_a_stalled_ticket_exactly_once() {
    let db = TestDb::mysql().await;
    let kb = common::small_kb(keep);
    let data = tempfile::tempdir().unwrap();
    let first = service_on(kb.path(), data.path(), &db.url).await;
    let second = service_on(kb.path(), data.path(), &db.url).await;
    let store = first.desk.store().unwrap();
    let customer = customer(store.as_ref()).await;
    let mut stalled = Vec::new();
    for text in [
        "Bourrage papier dans le bac 2 de ma C750.",
        "Ma C750 affiche 88 toner cyan bas.",
        "Bourrage récurrent tiroir 2, C750n.",
    ] {
        stalled.push(stored_ticket(store.as_ref(), customer, text).await);
    }
    tokio::time::sleep(std::time::Duration::from_millis(1_100)).await;
    let (a, b) = tokio::join!(
        first.desk.sweep_stalled_after(1),
        second.desk.sweep_stalled_after(1)
    );
    let (a, b) = (a.unwrap(), b.unwrap());
    assert_eq!(a.resumed + b.resumed, 3, "{a:?} {b:?}");
    for ticket in &stalled {
        let steps = store.pipeline(ticket.id).await.unwrap().steps;
        let mut names: Vec<_> = steps.iter().map(|s| s.record.step.clone()).collect();
        let all = names.len();
        names.sort();
        names.dedup();
        assert_eq!(
            all,
            names.len(),
            "ticket {}: a step recorded twice: {steps:?}",
            ticket.id
        );
        assert_ne!(
            store.ticket(ticket.id).await.unwrap().unwrap().status,
            Status::New
        );
    }
    db.drop_db().await;
}

/// The lease the server storing a ticket takes keeps every other server off it (a retry,
/// a sweep) until it runs out; a ticket no longer `new` is never claimed.
async fn the_first_claim_on_a_new_ticket_wins(db: TestDb) {
    let store = db.store.clone();
    let customer = customer(store.as_ref()).await;
    let ticket = stored_ticket(
        store.as_ref(),
        customer,
        "Ma C750 affiche 88 toner cyan bas.",
    )
    .await;
    assert!(
        store.claim_pipeline(ticket.id, 60).await.unwrap(),
        "a fresh ticket is free"
    );
    assert!(
        !store.claim_pipeline(ticket.id, 60).await.unwrap(),
        "a held ticket was claimed again"
    );
    tokio::time::sleep(std::time::Duration::from_millis(1_100)).await;
    assert!(
        !store.claim_stalled(ticket.id, 1, 60).await.unwrap(),
        "the sweep took a held ticket"
    );
    assert!(store.stalled_tickets(1, 10).await.unwrap().is_empty());

    let other = stored_ticket(store.as_ref(), customer, "Bourrage papier dans le bac 2.").await;
    assert!(store.claim_pipeline(other.id, 0).await.unwrap());
    tokio::time::sleep(std::time::Duration::from_millis(1_100)).await;
    assert!(
        store.claim_pipeline(other.id, 60).await.unwrap(),
        "a lease that ran out still holds"
    );
    store
        .set_status(other.id, Status::Escalated, Some("manual"), "marie", None)
        .await
        .unwrap();
    tokio::time::sleep(std::time::Duration::from_millis(1_100)).await;
    assert!(
        !store.claim_pipeline(other.id, 60).await.unwrap(),
        "a ticket no longer new was claimed"
    );
    db.drop_db().await;
}

#[tokio::test]
async fn the_first_claim_on_a_new_ticket_wins_on_sqlite() {
    the_first_claim_on_a_new_ticket_wins(TestDb::sqlite().await).await;
}

#[tokio::test]
async fn the_first_claim_on_a_new_ticket_wins_on_mariadb() {
    the_first_claim_on_a_new_ticket_wins(TestDb::mysql().await).await;
}

/// A ticket arriving while a fresh server's classifier still trains (seconds; far longer
/// on a busy machine) is answered at once, then classified once the classifier is trained:
/// its category, priority and predictions, and the classification step, recorded last.
#[tokio::test]
async fn a_ticket_is_not_held_while_the_classifier_trains_and_is_classified_after() {
    let kb = common::small_kb(keep);
    let data = tempfile::tempdir().unwrap();
    // No sweep while it runs: the ticket must be classified by what its answer left behind.
    // A cold directory: the classifier embeds its labelled tickets, as on a first start.
    let service = common::start_cold_service_with(kb.path(), data.path(), |c| {
        c.classify_wait_ms = 0;
        c.sweep_interval_ms = 3_600_000;
        c.stalled_after_secs = 3_600;
    })
    .await;
    let base = common::spawn_app(service.clone()).await;
    let customer = common::http::new_customer(&base).await;
    let submit = || {
        common::http::call(
            reqwest::Method::POST,
            format!("{base}/tickets"),
            Some(
                serde_json::json!({"customer_id": customer, "subject": "C750",
                "description": "Bonjour, bourrage papier dans le bac 2 de notre C750, ça bloque tout le service.",
                "channel": "email"}),
            ),
            Some("cold-start-1"),
        )
    };
    let (status, created) = submit().await;
    assert_eq!(status, 201, "{created}");
    assert!(created["decision"].is_string(), "answered: {created}");
    assert!(
        created["category"].is_null() && created["classification_pending"] == true,
        "not held for the classifier's training: {created}"
    );
    let id = created["ticket_id"].as_i64().unwrap();
    let store = service.desk.store().unwrap();
    let classified = |steps: &[devicekb::store::Stored<StepRecord>]| {
        steps.iter().any(|s| s.record.step == "classification")
    };
    // A retried submission meanwhile says so too (read before the store: a step, once
    // written, stays, so a store still without one means the replay came before it).
    let (_, replayed) = submit().await;
    assert_eq!(replayed["created"], false, "{replayed}");
    if !classified(&store.pipeline(id).await.unwrap().steps) {
        assert_eq!(replayed["classification_pending"], true, "{replayed}");
    }

    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(120);
    let steps = loop {
        let steps = store.pipeline(id).await.unwrap().steps;
        if classified(&steps) {
            break steps;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "never classified: {steps:?}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    };
    let last = &steps.last().unwrap().record;
    assert_eq!(
        (last.step.as_str(), last.status),
        ("classification", StepStatus::Ok),
        "{steps:?}"
    );
    let ticket = store.ticket(id).await.unwrap().unwrap();
    assert!(ticket.category.is_some(), "{ticket:?}");
    let tasks: Vec<String> = store
        .predictions(id)
        .await
        .unwrap()
        .into_iter()
        .map(|p| p.record.task)
        .collect();
    assert_eq!(tasks, ["category", "priority", "churn_risk"]);
    // A retry now reads the classification.
    let (_, replayed) = submit().await;
    assert_eq!(
        (
            replayed["classification_pending"].clone(),
            replayed["category"].clone()
        ),
        (serde_json::json!(false), serde_json::json!(ticket.category)),
        "{replayed}"
    );
    // The sweep finds nothing left to classify.
    let swept = service.desk.sweep_stalled_after(1).await.unwrap();
    assert_eq!(swept.classified, 0, "{swept:?}");
}

/// A ticket as a server that stopped before classifying it leaves it: settled, every
/// step but classification recorded.
async fn settled_unclassified(store: &dyn Store, customer_id: i64, text: &str) -> Ticket {
    settled_unclassified_with(store, customer_id, text, None).await
}

/// The same, with the priority the client chose, if any.
async fn settled_unclassified_with(
    store: &dyn Store,
    customer_id: i64,
    text: &str,
    chosen: Option<Priority>,
) -> Ticket {
    let ticket = stored_ticket_with(store, customer_id, text, chosen).await;
    for step in ["ingestion", "extraction", "retrieval", "decision"] {
        store.add_step(ticket.id, &ok_step(step)).await.unwrap();
    }
    store
        .set_status(
            ticket.id,
            Status::Escalated,
            Some("low_confidence"),
            "pipeline",
            None,
        )
        .await
        .unwrap()
}

fn ok_step(step: &str) -> StepRecord {
    StepRecord {
        step: step.into(),
        status: StepStatus::Ok,
        duration_ms: 1.0,
        error: None,
    }
}

fn late(category: &str) -> LateClassification {
    LateClassification {
        step: ok_step("classification"),
        predictions: vec![PredictionRecord {
            task: "category".into(),
            label: category.into(),
            confidence: 0.9,
            score: None,
            model: "test".into(),
            version: "1".into(),
        }],
        category: Some(category.into()),
        priority: None,
        retention_flag: false,
    }
}

/// A settled ticket whose classification did not end (the server stopped while its
/// classifier trained) is listed, classified by the sweep, and written once, whoever
/// writes second; on both databases.
async fn a_ticket_left_unclassified_is_classified_by_the_sweep(db: TestDb) {
    let kb = common::small_kb(keep);
    let data = tempfile::tempdir().unwrap();
    let service = service_on(kb.path(), data.path(), &db.url).await;
    let store = service.desk.store().unwrap();
    let customer = customer(store.as_ref()).await;
    let left = settled_unclassified(
        store.as_ref(),
        customer,
        "Ma C750 affiche 88 toner cyan bas, pouvez-vous nous en envoyer ?",
    )
    .await;
    // The same, its priority chosen by the client: kept.
    let chosen = settled_unclassified_with(
        store.as_ref(),
        customer,
        "URGENT : la C750 ne s'allume plus du tout, tout le service est bloqué.",
        Some(Priority::Low),
    )
    .await;
    let classified = settled_unclassified(store.as_ref(), customer, "Bourrage bac 2.").await;
    store
        .add_step(classified.id, &ok_step("classification"))
        .await
        .unwrap();
    let new = stored_ticket(store.as_ref(), customer, "Bourrage papier dans le bac 2.").await;

    tokio::time::sleep(std::time::Duration::from_millis(1_100)).await;
    let listed: Vec<i64> = store
        .unclassified_tickets(1, 100)
        .await
        .unwrap()
        .iter()
        .map(|t| t.id)
        .collect();
    assert_eq!(
        listed,
        [left.id, chosen.id],
        "neither a new ticket nor a classified one"
    );
    // The new ticket is the stalled sweep's: held here so this sweep leaves it.
    assert!(store.claim_pipeline(new.id, 600).await.unwrap());
    let swept = service.desk.sweep_stalled_after(1).await.unwrap();
    assert_eq!(
        (swept.resumed, swept.escalated, swept.classified),
        (0, 0, 2),
        "{swept:?}"
    );
    let steps = store.pipeline(left.id).await.unwrap().steps;
    let last = &steps.last().unwrap().record;
    assert_eq!(
        (last.step.as_str(), last.status),
        ("classification", StepStatus::Ok),
        "{steps:?}"
    );
    let after = store.ticket(left.id).await.unwrap().unwrap();
    assert!(after.category.is_some(), "{after:?}");
    assert_eq!(after.status, Status::Escalated, "its status is kept");
    let predictions = store.predictions(left.id).await.unwrap();
    assert_eq!(predictions.len(), 3);
    let predicted = predictions
        .iter()
        .find(|p| p.record.task == "priority")
        .map(|p| Priority::parse(&p.record.label).unwrap());
    // Not the priority the ticket was stored with, so that keeping it would show.
    assert_ne!(predicted, Some(Priority::Medium));
    assert_eq!(Some(after.priority), predicted, "the client chose none");
    assert!(!after.priority_given);
    let kept = store.ticket(chosen.id).await.unwrap().unwrap();
    assert!(kept.category.is_some(), "{kept:?}");
    let predicted = store
        .predictions(chosen.id)
        .await
        .unwrap()
        .into_iter()
        .find(|p| p.record.task == "priority")
        .map(|p| p.record.label);
    assert_ne!(predicted.as_deref(), Some("low"), "keeping it shows");
    assert_eq!(
        (kept.priority, kept.priority_given),
        (Priority::Low, true),
        "the client's priority is kept"
    );

    // Written once: a second writer (another server's sweep) writes nothing.
    assert!(!store
        .record_late_classification(left.id, &late("autre"))
        .await
        .unwrap());
    assert_eq!(store.predictions(left.id).await.unwrap().len(), 3);
    assert_eq!(
        store.ticket(left.id).await.unwrap().unwrap().category,
        after.category
    );
    // Two writers at once: one wins, all of it.
    let raced = settled_unclassified(store.as_ref(), customer, "Toner vide.").await;
    let (first, second) = (late("consommables"), late("commande"));
    let (a, b) = tokio::join!(
        store.record_late_classification(raced.id, &first),
        store.record_late_classification(raced.id, &second)
    );
    let (a, b) = (a.unwrap(), b.unwrap());
    assert!(a ^ b, "exactly one writes: {a} {b}");
    assert_eq!(store.predictions(raced.id).await.unwrap().len(), 1);
    let steps = store.pipeline(raced.id).await.unwrap().steps;
    assert_eq!(
        steps
            .iter()
            .filter(|s| s.record.step == "classification")
            .count(),
        1
    );
    db.drop_db().await;
}

/// A first writer's transaction in flight, as another server's would be: it holds the
/// ticket's row (the whole database on SQLite) and has written the ticket's category and
/// classification step, not yet committed.
enum WriterInFlight {
    Sqlite(sqlx::SqliteConnection),
    Mysql(sqlx::MySqlConnection),
}

impl WriterInFlight {
    async fn start(db: &TestDb, ticket_id: i64) -> WriterInFlight {
        use sqlx::Connection;
        let statements = |begin: &str| {
            [
                begin.to_string(),
                format!("UPDATE tickets SET category = 'autre' WHERE id = {ticket_id}"),
                format!(
                    "INSERT INTO processing_steps (ticket_id, step, status, duration_ms) \
                     VALUES ({ticket_id}, 'classification', 'ok', 1)"
                ),
            ]
        };
        match db.backend {
            Backend::Sqlite => {
                let mut c = sqlx::SqliteConnection::connect(&db.url).await.unwrap();
                for sql in statements("BEGIN IMMEDIATE") {
                    sqlx::query(&sql).execute(&mut c).await.unwrap();
                }
                WriterInFlight::Sqlite(c)
            }
            Backend::Mysql => {
                let mut c = sqlx::MySqlConnection::connect(&db.url).await.unwrap();
                for sql in statements("START TRANSACTION") {
                    sqlx::query(&sql).execute(&mut c).await.unwrap();
                }
                WriterInFlight::Mysql(c)
            }
        }
    }

    async fn commit(self) {
        match self {
            WriterInFlight::Sqlite(mut c) => {
                sqlx::query("COMMIT").execute(&mut c).await.unwrap();
            }
            WriterInFlight::Mysql(mut c) => {
                sqlx::query("COMMIT").execute(&mut c).await.unwrap();
            }
        };
    }
}

/// Two writers truly at once: a late classification arriving while another writer's
/// transaction is in flight waits for it, then sees its step and writes nothing.
async fn a_late_classification_waits_for_a_writer_in_flight(db: TestDb) {
    let store = db.store.clone();
    let customer = customer(store.as_ref()).await;
    let ticket = settled_unclassified(store.as_ref(), customer, "Toner vide.").await;
    let first = WriterInFlight::start(&db, ticket.id).await;
    let second = {
        let store = store.clone();
        tokio::spawn(async move {
            store
                .record_late_classification(ticket.id, &late("consommables"))
                .await
        })
    };
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    assert!(
        !second.is_finished(),
        "the second writer waits for the first"
    );
    first.commit().await;
    let wrote = second.await.unwrap().unwrap();
    assert!(!wrote, "the second writer sees the first's step");
    assert!(store.predictions(ticket.id).await.unwrap().is_empty());
    let after = store.ticket(ticket.id).await.unwrap().unwrap();
    assert_eq!(
        after.category.as_deref(),
        Some("autre"),
        "the first's, kept"
    );
    db.drop_db().await;
}

#[tokio::test]
async fn a_late_classification_waits_for_a_writer_in_flight_on_sqlite() {
    a_late_classification_waits_for_a_writer_in_flight(TestDb::sqlite().await).await;
}

#[tokio::test]
async fn a_late_classification_waits_for_a_writer_in_flight_on_mariadb() {
    a_late_classification_waits_for_a_writer_in_flight(TestDb::mysql().await).await;
}

#[tokio::test]
async fn a_ticket_left_unclassified_is_classified_by_the_sweep_on_sqlite() {
    a_ticket_left_unclassified_is_classified_by_the_sweep(TestDb::sqlite().await).await;
}

#[tokio::test]
async fn a_ticket_left_unclassified_is_classified_by_the_sweep_on_mariadb() {
    a_ticket_left_unclassified_is_classified_by_the_sweep(TestDb::mysql().await).await;
}
