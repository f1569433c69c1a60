//! Customers and tickets over HTTP, on the embedded SQLite store, with the real pipeline.
//! (The store itself is tested against SQLite and MariaDB in tests/store.rs.)

mod common;

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
async fn an_unreachable_database_is_a_503_and_searches_go_on() {
    let data = tempfile::tempdir().unwrap();
    // The stored API keys cannot be read either: only the operator's key can be checked.
    const KEY: &str = "operator-key";
    let service = common::start_service_with(&common::repo().join("kb"), data.path(), |c| {
        c.database_url = "mysql://root@127.0.0.1:1/devicekb".into();
        c.admin_api_key = Some(KEY.into());
    })
    .await;
    let base = common::spawn_app(service).await;
    let client = reqwest::Client::new();
    let response = client
        .post(format!("{base}/tickets"))
        .bearer_auth(KEY)
        .json(&json!({"customer_id": 1, "subject": "x"}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 503);
    assert!(response.headers().get("retry-after").is_some());
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error"], "database_unavailable");
    let search = |key: Option<&'static str>| {
        let mut request = client
            .post(format!("{base}/knowledge/search"))
            .json(&json!({"query": "88 toner"}));
        if let Some(key) = key {
            request = request.bearer_auth(key);
        }
        request.send()
    };
    assert_eq!(search(Some(KEY)).await.unwrap().status().as_u16(), 200);
    // Another key cannot be told from a revoked one until the keys are read: 503, not 401.
    assert_eq!(
        search(Some("dkb_other")).await.unwrap().status().as_u16(),
        503
    );
    assert_eq!(search(None).await.unwrap().status().as_u16(), 401);
}

/// The real model, except that it fails on any text containing "kaputt".
struct FlakyEmbedder(std::sync::Arc<dyn devicekb::embed::Embedder>);

impl devicekb::embed::Embedder for FlakyEmbedder {
    fn name(&self) -> &str {
        self.0.name()
    }
    fn dim(&self) -> usize {
        self.0.dim()
    }
    fn embed_queries(&self, texts: &[&str]) -> devicekb::Result<Vec<Vec<f32>>> {
        if texts.iter().any(|t| t.contains("kaputt")) {
            return Err(devicekb::Error::Embedding("the model crashed".into()));
        }
        self.0.embed_queries(texts)
    }
    fn embed_passages(&self, texts: &[&str]) -> devicekb::Result<Vec<Vec<f32>>> {
        self.0.embed_passages(texts)
    }
}

#[tokio::test]
async fn a_failing_step_escalates_the_ticket_and_loses_nothing() {
    use reqwest::Method;
    let kb = common::small_kb(|id| id.starts_with("lexmark-c750-msg-"));
    let data = tempfile::tempdir().unwrap();
    // Build the index with the real model, then serve with one that fails on some texts.
    drop(common::start_service(kb.path(), data.path()).await);
    let config = common::config(kb.path(), data.path());
    let service = devicekb::service::Service::start(
        config,
        std::sync::Arc::new(FlakyEmbedder(common::embedder())),
    )
    .await
    .unwrap();
    let base = common::spawn_app(service).await;
    let customer = new_customer(&base).await;
    let (status, created) = call(
        Method::POST,
        format!("{base}/tickets"),
        Some(json!({"customer_id": customer, "subject": "kaputt", "description": "La C750 affiche 88 Toner cyan bas."})),
        None,
    )
    .await;
    assert_eq!(status, 201, "{created}");
    assert_eq!(created["status"], "escalated", "{created}");
    assert_eq!(created["reason"], "step_failed", "{created}");
    let id = created["ticket_id"].as_i64().unwrap();
    let (_, details) = call(Method::GET, format!("{base}/tickets/{id}"), None, None).await;
    let step = |name: &str| {
        details["steps"]
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["step"] == name)
            .cloned()
            .unwrap_or_else(|| panic!("no {name} step: {details}"))
    };
    assert_eq!(step("extraction")["status"], "ok");
    assert_eq!(step("retrieval")["status"], "failed", "{details}");
    assert!(step("retrieval")["error"]
        .as_str()
        .unwrap()
        .contains("crashed"));
    assert_eq!(step("classification")["status"], "failed", "{details}");
    // The ticket, its message and its extraction are kept; the message waits for a person.
    assert_eq!(details["extractions"][0]["error_codes"], json!(["88"]));
    assert_eq!(details["messages"][0]["processed"], false, "{details}");
    let (_, waiting) = call(
        Method::GET,
        format!("{base}/messages/unprocessed"),
        None,
        None,
    )
    .await;
    assert!(
        waiting["messages"]
            .as_array()
            .unwrap()
            .iter()
            .any(|m| m["ticket_id"] == id),
        "{waiting}"
    );
    // Search without the failing text goes on.
    let (status, _) = call(
        Method::POST,
        format!("{base}/knowledge/search"),
        Some(json!({"query": "toner cyan bas"})),
        None,
    )
    .await;
    assert_eq!(status, 200);
}

#[tokio::test]
async fn a_stalled_ticket_is_resumed_and_keys_stay_with_their_customer() {
    use devicekb::service::tickets::{request_hash, CreateTicket};
    use devicekb::store::{Channel, IdempotencyKey, NewTicket, Priority};
    use reqwest::Method;
    let base = app().await;
    let customer = new_customer(&base).await;
    let other = new_customer(&base).await;
    let key = format!("stalled-{}-{customer}", std::process::id());
    let body = json!({"customer_id": customer, "subject": "C750", "description": "La C750 affiche 88 Toner cyan bas."});
    let parsed: CreateTicket = serde_json::from_value(body.clone()).unwrap();
    // A first submission stored the ticket and stopped there (the process died).
    let store = common::repo_service().desk.store().unwrap();
    let (stalled, _) = store
        .create_ticket(
            &NewTicket {
                customer_id: customer,
                device_id: None,
                subject: "C750".into(),
                description: "La C750 affiche 88 Toner cyan bas.".into(),
                channel: Channel::Email,
                priority: Priority::Medium,
                idempotency: Some(IdempotencyKey {
                    key: key.clone(),
                    request_hash: request_hash(&parsed).unwrap(),
                }),
            },
            "api",
        )
        .await
        .unwrap();
    let (status, retried) = call(
        Method::POST,
        format!("{base}/tickets"),
        Some(body),
        Some(&key),
    )
    .await;
    assert_eq!(status, 200, "{retried}");
    assert_eq!(retried["ticket_id"], stalled.id);
    assert_eq!(retried["created"], false);
    assert_eq!(
        retried["status"], "auto_resolved",
        "the retry ran the pipeline: {retried}"
    );
    let (_, details) = call(
        Method::GET,
        format!("{base}/tickets/{}", stalled.id),
        None,
        None,
    )
    .await;
    assert!(
        !details["steps"].as_array().unwrap().is_empty(),
        "{details}"
    );
    assert_eq!(details["messages"][0]["direction"], "inbound", "{details}");

    // The same key from another customer is refused, not answered with this ticket.
    let body = json!({"customer_id": other, "subject": "x", "description": "y"});
    let (status, e) = call(
        Method::POST,
        format!("{base}/tickets"),
        Some(body),
        Some(&key),
    )
    .await;
    assert_eq!(status, 409, "{e}");
    let message_key = format!("sms-{}-{customer}", std::process::id());
    let sms = |who: i64| json!({"customer_id": who, "channel": "sms", "direction": "inbound", "body": "la C750 affiche 88"});
    let (status, first) = call(
        Method::POST,
        format!("{base}/messages"),
        Some(sms(customer)),
        Some(&message_key),
    )
    .await;
    assert_eq!(status, 201, "{first}");
    let (status, e) = call(
        Method::POST,
        format!("{base}/messages"),
        Some(sms(other)),
        Some(&message_key),
    )
    .await;
    assert_eq!(status, 409, "{e}");
    // The prefix the service uses for its own keys is reserved.
    let (status, e) = call(
        Method::POST,
        format!("{base}/messages"),
        Some(sms(other)),
        Some("message:abc"),
    )
    .await;
    assert_eq!(
        (status, e["field"].as_str()),
        (400, Some("Idempotency-Key")),
        "{e}"
    );
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
