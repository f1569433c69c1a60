//! The earlier project's clients, unchanged: `devicekb demo` loads the sample set into a
//! fresh install, then the calls of its test script (test_api.sh) and the request bodies
//! of its API models (api.py: Customer, TicketCreate, MessageCreate, ExtractionCreate) are
//! replayed against the real binary, checking the response fields those clients read.

use crate::common;

use common::process::{devicekb, serve};
use serde_json::{json, Value};

fn keep(id: &str) -> bool {
    id.starts_with("lexmark-c750-msg-88") || id.contains("bourrage") || id.contains("jam")
}

async fn get(base: &str, path: &str) -> Value {
    let response = reqwest::get(format!("{base}{path}")).await.unwrap();
    assert!(
        response.status().is_success(),
        "GET {path}: {}",
        response.status()
    );
    response.json().await.unwrap()
}

async fn post(base: &str, path: &str, body: Value) -> (u16, Value) {
    let response = reqwest::Client::new()
        .post(format!("{base}{path}"))
        .json(&body)
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap())
}

#[test]
fn the_earlier_project_s_test_script_runs_on_a_fresh_install_after_the_demo() {
    let kb = common::small_kb(keep);
    let data = tempfile::tempdir().unwrap();

    let demo = devicekb(&["demo"], kb.path(), data.path())
        .output()
        .expect("devicekb demo runs");
    let stdout = String::from_utf8_lossy(&demo.stdout);
    assert!(
        demo.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&demo.stderr)
    );
    assert!(stdout.contains("customer   1"), "{stdout}");
    assert!(stdout.lines().filter(|l| l.starts_with("ticket")).count() >= 3);
    // Never into a store that has customers.
    let again = devicekb(&["demo"], kb.path(), data.path())
        .output()
        .unwrap();
    assert!(!again.status.success());
    assert!(String::from_utf8_lossy(&again.stderr).contains("empty store"));

    let mut command = devicekb(&["serve", "--addr", "127.0.0.1:0"], kb.path(), data.path());
    // The first ticket may wait for the classifier's training, which a busy test machine
    // can stretch past the default request timeout; timeouts are tested elsewhere.
    command.env("DEVICEKB_REQUEST_TIMEOUT_MS", "300000");
    let (_server, base, _log) = serve(command);
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        // test_api.sh, call by call.
        get(&base, "/").await;
        assert!(get(&base, "/health").await["status"].is_string());
        get(&base, "/models").await;
        let customers = get(&base, "/customers").await;
        assert!(customers["count"].as_u64().unwrap() >= 3, "{customers}");
        assert!(customers["customers"][0]["company_name"].is_string());
        let tickets = get(&base, "/tickets").await;
        assert!(tickets["count"].as_u64().unwrap() >= 3, "{tickets}");
        let (status, found) = post(
            &base,
            "/knowledge/search",
            json!({"query": "panneau commandes ne s'affiche rien", "limit": 3}),
        )
        .await;
        assert_eq!(status, 200, "{found}");
        let (status, created) = post(
            &base,
            "/tickets",
            json!({
                "customer_id": 1,
                "subject": "Imprimante bloquée - erreur bourrage",
                "description": "L'imprimante affiche une erreur de bourrage papier mais il n'y a pas de papier coincé",
                "priority": "high"
            }),
        )
        .await;
        assert_eq!(status, 201, "{created}");
        let ticket_id = created["ticket_id"].as_i64().expect("ticket_id");
        assert!(created["status"].is_string());
        let stats = get(&base, "/stats/tickets").await;
        assert!(stats.is_object(), "{stats}");

        // api.py's other request models, as its clients send them.
        let (status, customer) = post(
            &base,
            "/customers",
            json!({
                "company_name": "Boulangerie Roux",
                "contact_name": "David Roux",
                "contact_email": "david.roux@example.fr",
                "contact_phone": "+33612345612",
                "address": "8 rue du Four, 75006 Paris"
            }),
        )
        .await;
        assert_eq!(status, 201, "{customer}");
        assert!(customer["customer_id"].as_i64().is_some(), "{customer}");
        let (status, message) = post(
            &base,
            "/messages",
            json!({
                "customer_id": 1,
                "channel": "sms",
                "direction": "inbound",
                "body": "la C750 affiche 88 toner bas",
                "transcription": null
            }),
        )
        .await;
        assert!(status == 201 || status == 200, "{status} {message}");
        assert!(message["message_id"].as_i64().is_some(), "{message}");
        let (status, extraction) = post(
            &base,
            "/extractions",
            json!({
                "ticket_id": ticket_id,
                "extractor_name": "regex-v1",
                "extracted_fields": {"printer_model": "lexmark c750n", "error_code": "200"},
                "confidence": 0.8
            }),
        )
        .await;
        assert_eq!(status, 201, "{extraction}");
        assert_eq!(extraction["status"], "recorded");
        assert!(extraction["extraction_id"].as_i64().is_some());
        let details = get(&base, &format!("/tickets/{ticket_id}")).await;
        let external = details["extractions"]
            .as_array()
            .unwrap()
            .iter()
            .find(|x| x["source"] == "regex-v1")
            .unwrap_or_else(|| panic!("{details}"));
        assert_eq!(external["model"], "lexmark c750n");
        assert_eq!(external["error_codes"], json!(["200"]));
        // A client mistake is named, in the project's error form.
        let (status, error) = post(
            &base,
            "/extractions",
            json!({"ticket_id": ticket_id, "extractor_name": "x", "extracted_fields": {}, "confidence": 7}),
        )
        .await;
        assert_eq!(status, 422, "{error}");
        assert_eq!(error["field"], "confidence");
    });
}
