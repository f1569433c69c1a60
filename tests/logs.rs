//! What the server logs, as an operator ships it: one line per request (route template,
//! status, time, caller) and, with `DEVICEKB_LOG_FORMAT=json`, one JSON object a line.

use crate::common;

use std::time::Duration;

use common::process::{devicekb, poll, serve_with_log};
use serde_json::Value;

fn keep(id: &str) -> bool {
    id == "lexmark-c750-msg-88-toner-bas"
}

#[test]
fn json_logs_carry_a_line_per_request_with_the_route_template() {
    let kb = common::small_kb(keep);
    let data = tempfile::tempdir().unwrap();
    let mut command = devicekb(&["serve", "--addr", "127.0.0.1:0"], kb.path(), data.path());
    command
        .env("DEVICEKB_LOG_FORMAT", "json")
        .env("RUST_LOG", "info");
    let (_server, base, startup, later) = serve_with_log(command);
    for line in &startup {
        let parsed: Result<Value, _> = serde_json::from_str(line);
        assert!(parsed.is_ok(), "not a JSON line: {line}");
    }
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let status = reqwest::get(format!("{base}/tickets/424242"))
            .await
            .unwrap()
            .status();
        assert_eq!(status.as_u16(), 404);
    });
    let line = poll(Duration::from_secs(30), "the request's log line", || {
        while let Ok(line) = later.try_recv() {
            let parsed: Value = serde_json::from_str(&line)
                .unwrap_or_else(|e| panic!("not a JSON line ({e}): {line}"));
            if parsed["fields"]["message"] == "request" {
                return Some(parsed);
            }
        }
        None
    });
    let fields = &line["fields"];
    assert_eq!(fields["route"], "/tickets/{id}", "{line}");
    assert_eq!(fields["status"], 404, "{line}");
    assert_eq!(fields["method"], "GET", "{line}");
    assert_eq!(fields["caller"], "api", "{line}");
    assert!(
        !line.to_string().contains("424242"),
        "ids stay out of the log: {line}"
    );
}

#[test]
fn an_unknown_log_format_is_refused_at_start() {
    let kb = common::small_kb(keep);
    let data = tempfile::tempdir().unwrap();
    let output = devicekb(&["validate"], kb.path(), data.path())
        .env("DEVICEKB_LOG_FORMAT", "yaml")
        .output()
        .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("DEVICEKB_LOG_FORMAT=yaml"), "{stderr}");
}

#[tokio::test]
async fn metrics_count_requests_by_route_template_for_prometheus() {
    let base = common::http::app().await;
    let client = reqwest::Client::new();
    let search = client
        .post(format!("{base}/knowledge/search"))
        .json(&serde_json::json!({"query": "88 toner cyan"}))
        .send()
        .await
        .unwrap();
    assert_eq!(search.status().as_u16(), 200);
    let answer = client
        .post(format!("{base}/answer"))
        .json(&serde_json::json!({"text": "Je voudrais un remboursement de ma dernière facture"}))
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status().as_u16(), 200);
    let missing = reqwest::get(format!("{base}/tickets/424242"))
        .await
        .unwrap();
    assert_eq!(missing.status().as_u16(), 404);

    let response = reqwest::get(format!("{base}/metrics")).await.unwrap();
    assert_eq!(response.status().as_u16(), 200);
    let content_type = response.headers()[reqwest::header::CONTENT_TYPE]
        .to_str()
        .unwrap()
        .to_string();
    assert!(content_type.starts_with("text/plain"), "{content_type}");
    let body = response.text().await.unwrap();
    for expected in [
        r#"devicekb_http_requests_total{method="POST",route="/knowledge/search",status="200"} "#,
        // The template, never the id: one series per route, however many tickets.
        r#"devicekb_http_requests_total{method="GET",route="/tickets/{id}",status="404"} "#,
        r#"devicekb_http_request_duration_seconds_bucket{method="POST",route="/knowledge/search",le="+Inf"}"#,
        r#"devicekb_answers_total{decision="escalate",reason="sensitive_category",responder="#,
        "# HELP devicekb_index_entries ",
        r#"devicekb_query_cache_lookups_total{result="miss"} "#,
        r#"devicekb_embedding_batch_size_bucket{kind="query",le="1"}"#,
        "# TYPE devicekb_embedding_queue_depth gauge",
        "devicekb_index_entries ",
        "devicekb_index_info{generation=",
        "devicekb_store_up 1",
        "# HELP devicekb_answers_total ",
    ] {
        assert!(body.contains(expected), "missing {expected} in:\n{body}");
    }
    assert!(!body.contains("424242"), "{body}");
}
