//! Nothing stuck: tickets whose pipeline did not finish are resumed (no step recorded) or
//! escalated `step_failed` (some steps recorded), on both databases; fresh tickets are left
//! to their pipeline; two servers on one MariaDB handle a stalled ticket exactly once.

use crate::common;

use std::sync::Arc;

use common::db::TestDb;
use devicekb::service::Service;
use devicekb::store::{
    Channel, NewCustomer, NewTicket, Priority, Status, StepRecord, StepStatus, Store, Ticket,
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
    store
        .create_ticket(
            &NewTicket {
                customer_id,
                device_id: None,
                subject: "Imprimante".into(),
                description: text.into(),
                channel: Channel::Email,
                priority: Priority::Medium,
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
