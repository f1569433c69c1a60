//! Nothing lost, nothing stuck, with the real binary: a server killed (SIGKILL) while
//! tickets arrive, then started again, leaves no ticket `new`; a ticket the dead server had
//! stored but not processed is resumed by the new one.

use crate::common;

use std::path::Path;
use std::time::{Duration, Instant};

use common::process::{devicekb, serve, Child};

use serde_json::{json, Value};

fn keep(id: &str) -> bool {
    id.starts_with("lexmark-c750-jam-2") || id == "lexmark-c750-msg-88-toner-bas"
}

/// `devicekb serve` on a free loopback port, with the test's settings plus `env`.
fn start(kb: &Path, data: &Path, env: &[(&str, &str)]) -> (Child, String) {
    let mut command = devicekb(&["serve", "--addr", "127.0.0.1:0"], kb, data);
    for (name, value) in env {
        command.env(name, value);
    }
    let (child, base, _) = serve(command);
    (child, base)
}

const STALLED_AFTER_1_S: &[(&str, &str)] = &[("DEVICEKB_STALLED_AFTER_SECS", "1")];

/// `start` on the blocking pool (it waits for the server to listen).
async fn start_off_thread(
    kb: &Path,
    data: &Path,
    env: &'static [(&'static str, &'static str)],
) -> (Child, String) {
    let (kb, data) = (kb.to_path_buf(), data.to_path_buf());
    tokio::task::spawn_blocking(move || start(&kb, &data, env))
        .await
        .unwrap()
}

async fn tickets(base: &str) -> Vec<Value> {
    let body: Value = reqwest::get(format!("{base}/tickets?limit=500"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    body["tickets"].as_array().cloned().unwrap_or_default()
}

#[tokio::test]
async fn a_server_killed_while_tickets_arrive_leaves_none_stuck_after_restart() {
    let kb = common::small_kb(keep);
    let data = tempfile::tempdir().unwrap();
    // The server storing a ticket holds its pipeline for as long as the stall threshold,
    // which every server of a deployment shares: both servers here use 1 s.
    let (first, first_base) = start_off_thread(kb.path(), data.path(), STALLED_AFTER_1_S).await;
    let client = reqwest::Client::new();
    let customer: Value = client
        .post(format!("{}/customers", first_base))
        .json(&json!({"name": "Cabinet Arnaud"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    // Tickets in flight when the process dies: some stored, some perhaps half-processed.
    let mut sent = Vec::new();
    for i in 0..6 {
        let request = client
            .post(format!("{}/tickets", first_base))
            .json(&json!({
                "customer_id": customer["id"],
                "subject": format!("Bourrage {i}"),
                "description": "Bourrage papier dans le bac 2 de ma C750, le voyant clignote."
            }))
            .send();
        sent.push(tokio::spawn(request));
    }
    tokio::time::sleep(Duration::from_millis(30)).await;
    drop(first); // SIGKILL
    for request in sent {
        let _ = request.await;
    }

    let (_second, second_base) = start_off_thread(
        kb.path(),
        data.path(),
        &[
            ("DEVICEKB_STALLED_AFTER_SECS", "1"),
            ("DEVICEKB_SWEEP_INTERVAL_MS", "1000"),
        ],
    )
    .await;
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let all = tickets(&second_base).await;
        let stuck: Vec<_> = all.iter().filter(|t| t["status"] == "new").collect();
        if stuck.is_empty() {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "{} of {} tickets still new a minute after the restart: {stuck:?}",
            stuck.len(),
            all.len()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[tokio::test]
async fn a_ticket_stored_but_never_processed_is_resumed_by_the_next_server() {
    let kb = common::small_kb(keep);
    let data = tempfile::tempdir().unwrap();
    // What a server killed between storing a ticket and its pipeline leaves behind.
    let store = devicekb::store::connect(&format!(
        "sqlite://{}",
        data.path().join("devicekb.db").display()
    ))
    .await
    .unwrap();
    let customer = store
        .create_customer(&devicekb::store::NewCustomer {
            name: "Cabinet Arnaud".into(),
            ..Default::default()
        })
        .await
        .unwrap();
    let (ticket, _) = store
        .create_ticket(
            &devicekb::store::NewTicket {
                customer_id: customer.id,
                device_id: None,
                subject: "Bourrage".into(),
                description: "Bourrage papier dans le bac 2 de ma C750.".into(),
                channel: devicekb::store::Channel::Email,
                priority: devicekb::store::Priority::Medium,
                priority_given: false,
                idempotency: None,
            },
            "test",
        )
        .await
        .unwrap();
    drop(store);
    tokio::time::sleep(Duration::from_millis(1_100)).await;

    let (_server, server_base) = start_off_thread(kb.path(), data.path(), STALLED_AFTER_1_S).await;
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let found: Value = reqwest::get(format!("{}/tickets/{}", server_base, ticket.id))
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let status = found["status"]
            .as_str()
            .or_else(|| found["ticket"]["status"].as_str());
        if status.is_some_and(|s| s != "new") {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "still new after the restart: {found}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}
