//! Customers and tickets over HTTP, on the embedded SQLite store, with the real pipeline.
//! (The store itself is tested against SQLite and MariaDB in tests/store.rs.)

use crate::common;

use common::http::{app, call, new_customer};
use serde_json::{json, Value};

#[tokio::test]
async fn a_ticket_runs_the_pipeline_and_its_history_is_kept() {
    let base = app().await;
    let customer = new_customer(&base).await;
    let (status, created) = call(
        reqwest::Method::POST,
        format!("{base}/tickets"),
        Some(json!({"customer_id": customer, "subject": "C750", "description": "Bonjour, la C750 affiche 88 Toner cyan bas.", "channel": "email"})),
        None,
    )
    .await;
    assert_eq!(status, 201, "{created}");
    assert_eq!(created["decision"], "auto", "{created}");
    assert_eq!(created["status"], "auto_resolved");
    assert_eq!(
        created["citations"][0]["kb_id"],
        "lexmark-c750-msg-88-toner-bas"
    );
    assert!(created["reply"].as_str().unwrap().contains("88"));
    let id = created["ticket_id"].as_i64().unwrap();

    let (status, details) = call(
        reqwest::Method::GET,
        format!("{base}/tickets/{id}"),
        None,
        None,
    )
    .await;
    assert_eq!(status, 200, "{details}");
    assert_eq!(details["ticket"]["status"], "auto_resolved");
    let history: Vec<(&str, &str)> = details["history"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| {
            (
                h["to_status"].as_str().unwrap(),
                h["actor"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(history, vec![("new", "api"), ("auto_resolved", "pipeline")]);
    // Every step's output and timing was stored.
    assert_eq!(
        details["extractions"][0]["model"], "Lexmark C750",
        "{details}"
    );
    assert_eq!(details["extractions"][0]["error_codes"], json!(["88"]));
    assert_eq!(
        details["rag_result"]["results"][0]["kb_id"],
        "lexmark-c750-msg-88-toner-bas"
    );
    assert_eq!(
        details["responses"][0]["citations"],
        json!(["lexmark-c750-msg-88-toner-bas"])
    );
    assert_eq!(details["responses"][0]["send_status"], "pending");
    let steps: Vec<&str> = details["steps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["step"].as_str().unwrap())
        .collect();
    assert_eq!(
        steps,
        vec![
            "ingestion",
            "extraction",
            "retrieval",
            "decision",
            "response",
            "classification"
        ]
    );
    // Classification: a category, a priority and a churn risk, each stored as a prediction.
    let tasks: Vec<&str> = details["predictions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["task"].as_str().unwrap())
        .collect();
    assert_eq!(
        tasks,
        vec!["category", "priority", "churn_risk"],
        "{details}"
    );
    assert_eq!(
        details["ticket"]["category"], details["predictions"][0]["label"],
        "{details}"
    );
    assert!(
        ["technique", "consommables"].contains(&details["ticket"]["category"].as_str().unwrap())
    );
    assert!(!details["ticket"]["retention_flag"].as_bool().unwrap());
    // The conversation: the customer's message, then the automatic reply.
    let directions: Vec<&str> = details["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["direction"].as_str().unwrap())
        .collect();
    assert_eq!(directions, vec!["inbound", "outbound"], "{details}");
    assert!(details["messages"][0]["processed"].as_bool().unwrap());
    assert!(details["steps"]
        .as_array()
        .unwrap()
        .iter()
        .all(|s| s["status"] == "ok" && s["duration_ms"].as_f64().unwrap() >= 0.0));

    // An agent closes it; the change is in the history.
    let (status, ticket) = call(
        reqwest::Method::PATCH,
        format!("{base}/tickets/{id}"),
        Some(json!({"status": "closed", "actor": "marie"})),
        None,
    )
    .await;
    assert_eq!(status, 200, "{ticket}");
    assert_eq!(ticket["status"], "closed");
    let (_, details) = call(
        reqwest::Method::GET,
        format!("{base}/tickets/{id}"),
        None,
        None,
    )
    .await;
    assert_eq!(
        details["history"].as_array().unwrap().last().unwrap()["actor"],
        "marie"
    );
}

#[tokio::test]
async fn escalations_keep_the_reason_and_lists_filter() {
    let base = app().await;
    let customer = new_customer(&base).await;
    let (status, created) = call(
        reqwest::Method::POST,
        format!("{base}/tickets"),
        Some(json!({"customer_id": customer, "subject": "Facture", "description": "Nous avons été facturés deux fois, merci de rembourser.", "priority": "high"})),
        None,
    )
    .await;
    assert_eq!(status, 201, "{created}");
    assert_eq!(created["status"], "escalated");
    assert_eq!(created["reason"], "sensitive_category");
    assert_eq!(created["reply"], Value::Null);
    let id = created["ticket_id"].as_i64().unwrap();
    let (status, list) = call(
        reqwest::Method::GET,
        format!("{base}/tickets?status=escalated&priority=high&limit=500"),
        None,
        None,
    )
    .await;
    assert_eq!(status, 200, "{list}");
    let tickets = list["tickets"].as_array().unwrap();
    assert!(tickets.iter().any(|t| t["id"] == id));
    assert!(tickets
        .iter()
        .all(|t| t["status"] == "escalated" && t["priority"] == "high"));
    assert_eq!(
        tickets.iter().find(|t| t["id"] == id).unwrap()["escalation_reason"],
        "sensitive_category"
    );
}

#[tokio::test]
async fn a_retried_submission_returns_the_same_ticket() {
    let base = app().await;
    let customer = new_customer(&base).await;
    let key = format!("retry-{}-{}", std::process::id(), customer);
    let body = json!({"customer_id": customer, "subject": "bourrage", "description": "La C750 affiche 201 Bourrage papier."});
    let (status, first) = call(
        reqwest::Method::POST,
        format!("{base}/tickets"),
        Some(body.clone()),
        Some(&key),
    )
    .await;
    assert_eq!(status, 201, "{first}");
    let (status, again) = call(
        reqwest::Method::POST,
        format!("{base}/tickets"),
        Some(body),
        Some(&key),
    )
    .await;
    assert_eq!(status, 200, "{again}");
    assert_eq!(again["ticket_id"], first["ticket_id"]);
    assert_eq!(again["created"], false);
}

#[tokio::test]
async fn bad_input_is_named() {
    let base = app().await;
    let customer = new_customer(&base).await;
    let post = |body: Value| {
        call(
            reqwest::Method::POST,
            format!("{base}/tickets"),
            Some(body),
            None,
        )
    };
    let (status, e) = post(json!({"customer_id": 987_654_321, "subject": "x"})).await;
    assert_eq!(
        (status, e["error"].as_str()),
        (404, Some("not_found")),
        "{e}"
    );
    assert!(e["detail"].as_str().unwrap().contains("customer_id"), "{e}");
    let (status, e) =
        post(json!({"customer_id": customer, "subject": "x", "device_id": 987_654_321})).await;
    assert_eq!(status, 404, "{e}");
    assert!(e["detail"].as_str().unwrap().contains("device_id"), "{e}");
    let (status, e) =
        post(json!({"customer_id": customer, "subject": "x", "priority": "urgent"})).await;
    assert_eq!(
        (status, e["field"].as_str()),
        (422, Some("priority")),
        "{e}"
    );
    assert!(
        e["detail"]
            .as_str()
            .unwrap()
            .contains("low, medium, high, critical"),
        "{e}"
    );
    let (status, e) =
        post(json!({"customer_id": customer, "subject": "x", "channel": "fax"})).await;
    assert_eq!((status, e["field"].as_str()), (422, Some("channel")), "{e}");
    let (status, e) =
        post(json!({"customer_id": customer, "subject": " ", "description": ""})).await;
    assert_eq!(status, 422, "{e}");
    let (status, e) = post(json!({"customer_id": "abc"})).await;
    assert_eq!(status, 400, "{e}");
    let (status, _) =
        post(json!({"customer_id": customer, "description": "x".repeat(70 * 1024)})).await;
    assert_eq!(status, 413);
    let (status, e) = call(
        reqwest::Method::GET,
        format!("{base}/tickets?limit=501"),
        None,
        None,
    )
    .await;
    assert_eq!((status, e["field"].as_str()), (422, Some("limit")), "{e}");
    let (status, e) = call(
        reqwest::Method::GET,
        format!("{base}/tickets?status=done"),
        None,
        None,
    )
    .await;
    assert_eq!((status, e["field"].as_str()), (422, Some("status")), "{e}");
    for (query, field) in [
        ("retention_flag=maybe", "retention_flag"),
        ("order=oldest", "order"),
    ] {
        let (status, e) = call(
            reqwest::Method::GET,
            format!("{base}/tickets?{query}"),
            None,
            None,
        )
        .await;
        assert_eq!((status, e["field"].as_str()), (422, Some(field)), "{e}");
    }
    let (status, listed) = call(
        reqwest::Method::GET,
        format!("{base}/tickets?order=queue&retention_flag=false&model=Lexmark+C750&limit=500"),
        None,
        None,
    )
    .await;
    assert_eq!(status, 200, "{listed}");
    assert!(listed["tickets"]
        .as_array()
        .unwrap()
        .iter()
        .all(|t| t["model"] == "Lexmark C750" && t["retention_flag"] == false));
    let (status, e) = call(
        reqwest::Method::GET,
        format!("{base}/tickets?category=techique"),
        None,
        None,
    )
    .await;
    assert_eq!(
        (status, e["field"].as_str()),
        (422, Some("category")),
        "{e}"
    );
    assert!(
        e["detail"]
            .as_str()
            .unwrap()
            .contains("technique, consommables"),
        "{e}"
    );
    let (status, e) = call(
        reqwest::Method::GET,
        format!("{base}/tickets/abc"),
        None,
        None,
    )
    .await;
    assert_eq!((status, e["field"].as_str()), (400, Some("id")), "{e}");
    let (status, _) = call(
        reqwest::Method::GET,
        format!("{base}/tickets/999999999"),
        None,
        None,
    )
    .await;
    assert_eq!(status, 404);
    let (status, e) = call(
        reqwest::Method::PATCH,
        format!("{base}/tickets/999999999"),
        Some(json!({"status": "open"})),
        None,
    )
    .await;
    assert_eq!(status, 404, "{e}");
    let (status, e) = call(
        reqwest::Method::POST,
        format!("{base}/customers"),
        Some(json!({"name": "  "})),
        None,
    )
    .await;
    assert_eq!((status, e["field"].as_str()), (422, Some("name")), "{e}");
}

#[tokio::test]
async fn the_earlier_project_s_customer_fields_still_work() {
    let base = app().await;
    // Its api.py's Customer model, as its clients send it.
    let unique = format!(
        "compta-{}@cabinet-arnaud.fr",
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos()
    );
    let (status, created) = call(
        reqwest::Method::POST,
        format!("{base}/customers"),
        Some(json!({
            "company_name": "Cabinet Arnaud",
            "contact_name": "Marc Arnaud",
            "contact_email": unique,
            "contact_phone": "01 23 45 67 89",
            "address": "12 rue des Lilas, 69003 Lyon"
        })),
        None,
    )
    .await;
    assert_eq!(status, 201, "{created}");
    assert_eq!(created["status"], "created");
    let id = created["customer_id"].as_i64().unwrap();
    assert_eq!(created["id"], id);
    assert_eq!(created["name"], "Marc Arnaud");
    assert_eq!(created["company"], "Cabinet Arnaud");
    assert_eq!(created["address"], "12 rue des Lilas, 69003 Lyon");
    let (status, listed) = call(
        reqwest::Method::GET,
        format!("{base}/customers?limit=500"),
        None,
        None,
    )
    .await;
    assert_eq!(status, 200);
    let found = listed["customers"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["id"] == id)
        .cloned()
        .unwrap_or_default();
    assert_eq!(found["company_name"], "Cabinet Arnaud", "{found}");
    assert_eq!(found["contact_email"], unique.as_str(), "{found}");
    // A company alone names the customer; neither is a 422 naming the field.
    let (status, only_company) = call(
        reqwest::Method::POST,
        format!("{base}/customers"),
        Some(json!({"company_name": "Imprimerie Blanc"})),
        None,
    )
    .await;
    assert_eq!(
        (status, only_company["name"].as_str()),
        (201, Some("Imprimerie Blanc"))
    );
    let (status, neither) = call(
        reqwest::Method::POST,
        format!("{base}/customers"),
        Some(json!({"contact_phone": "0612345678"})),
        None,
    )
    .await;
    assert_eq!(
        (status, neither["field"].as_str()),
        (422, Some("name")),
        "{neither}"
    );
}
