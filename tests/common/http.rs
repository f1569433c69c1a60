//! HTTP helpers for tests that drive the real app: one call with its status and JSON body,
//! the app over the repository's KB, a customer to file tickets for.

use serde_json::{json, Value};

pub async fn call(
    method: reqwest::Method,
    url: String,
    body: Option<Value>,
    key: Option<&str>,
) -> (u16, Value) {
    let mut request = reqwest::Client::new().request(method, url);
    if let Some(body) = body {
        request = request.json(&body);
    }
    send(request, key).await
}

/// POSTs `body` as written (JSON text: its key order and whitespace reach the server).
pub async fn post_text(url: String, body: &str, key: Option<&str>) -> (u16, Value) {
    let request = reqwest::Client::new()
        .post(url)
        .header("content-type", "application/json")
        .body(body.to_string());
    send(request, key).await
}

async fn send(mut request: reqwest::RequestBuilder, key: Option<&str>) -> (u16, Value) {
    if let Some(key) = key {
        request = request.header("Idempotency-Key", key);
    }
    let response = request.send().await.expect("request");
    let status = response.status().as_u16();
    let text = response.text().await.unwrap();
    (
        status,
        serde_json::from_str(&text).unwrap_or(Value::String(text)),
    )
}

pub async fn app() -> String {
    super::spawn_app(super::repo_service()).await
}

pub async fn new_customer(base: &str) -> i64 {
    let (status, c) = call(
        reqwest::Method::POST,
        format!("{base}/customers"),
        Some(json!({"name": "Cabinet Arnaud"})),
        None,
    )
    .await;
    assert_eq!(status, 201, "{c}");
    c["id"].as_i64().unwrap()
}
