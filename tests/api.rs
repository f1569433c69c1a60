//! The HTTP API against the real app (port 0), the real model and the repository's KB.

use crate::common;

use serde_json::{json, Value};

async fn post(base: &str, path: &str, body: String) -> (u16, Value) {
    let response = reqwest::Client::new()
        .post(format!("{base}{path}"))
        .header("content-type", "application/json")
        .body(body)
        .send()
        .await
        .expect("request");
    let status = response.status().as_u16();
    let text = response.text().await.expect("body");
    (
        status,
        serde_json::from_str(&text).unwrap_or(Value::String(text)),
    )
}

async fn search(base: &str, body: Value) -> (u16, Value) {
    post(base, "/knowledge/search", body.to_string()).await
}

async fn app() -> String {
    common::spawn_app(common::repo_service()).await
}

fn ids(answer: &Value) -> Vec<String> {
    answer["results"]
        .as_array()
        .expect("results")
        .iter()
        .map(|r| r["kb_id"].as_str().unwrap().to_string())
        .collect()
}

#[tokio::test]
async fn search_answers_in_the_earlier_clients_shape() {
    let base = app().await;
    let (status, answer) = search(
        &base,
        json!({"query": "l'écran affiche 88 toner cyan bas", "limit": 3}),
    )
    .await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["query"], "l'écran affiche 88 toner cyan bas");
    assert_eq!(answer["count"], answer["results"].as_array().unwrap().len());
    let first = &answer["results"][0];
    assert_eq!(first["kb_id"], "lexmark-c750-msg-88-toner-bas", "{answer}");
    for field in [
        "problem_title",
        "problem_description",
        "cause",
        "solution",
        "manufacturer",
    ] {
        assert!(first[field].is_string(), "{field} missing in {first}");
    }
    assert!(!first["solution_steps"].as_array().unwrap().is_empty());
    assert!(first["tags"].is_array());
    assert_eq!(first["model_name"], "Lexmark C750");
    let relevance = first["relevance"].as_f64().unwrap();
    assert!((0.0..=1.0).contains(&relevance));
    let second = answer["results"][1]["relevance"].as_f64().unwrap();
    assert!(relevance >= second, "relevance follows the ranking");
}

#[tokio::test]
async fn exact_error_codes_and_models_rank_first() {
    let base = app().await;
    for (query, expected) in [
        ("49.4C02", "hp-49-error-firmware"),
        (
            "code 0xEA sur ma WF-2860",
            "epson-workforce-0xea-0xf1-obstruction",
        ),
        ("201", "lexmark-c750-jam-201-unite-fusion"),
    ] {
        for mode in ["bm25", "hybrid"] {
            let (status, answer) = search(&base, json!({"query": query, "mode": mode})).await;
            assert_eq!(status, 200);
            assert_eq!(
                ids(&answer).first().map(String::as_str),
                Some(expected),
                "{query} ({mode}): {answer}"
            );
        }
    }
}

#[tokio::test]
async fn bad_input_is_a_400_naming_the_field() {
    let base = app().await;
    let long = "a".repeat(2049);
    let cases: Vec<(String, &str)> = vec![
        (json!({"query": ""}).to_string(), "query"),
        (json!({"query": "   \n\t "}).to_string(), "query"),
        (json!({"query": long}).to_string(), "query"),
        (json!({"query": "toner", "limit": 0}).to_string(), "limit"),
        (json!({"query": "toner", "limit": 101}).to_string(), "limit"),
        (json!({"query": "toner", "limit": -3}).to_string(), "limit"),
        (
            json!({"query": "toner", "limit": "ten"}).to_string(),
            "limit",
        ),
        (json!({"query": 42}).to_string(), "query"),
        (
            json!({"query": "toner", "mode": "fuzzy"}).to_string(),
            "mode",
        ),
        (json!({"limit": 3}).to_string(), "query"),
        ("{\"query\": \"toner\"".to_string(), ""),
        ("not json".to_string(), ""),
    ];
    for (body, field) in cases {
        let (status, answer) = post(&base, "/knowledge/search", body.clone()).await;
        assert_eq!(status, 400, "{body} -> {answer}");
        assert!(
            answer["error"].is_string() && answer["detail"].is_string(),
            "{body} -> {answer}"
        );
        assert!(
            answer["detail"].as_str().unwrap().contains(field),
            "{body} -> {answer}"
        );
        if !field.is_empty() {
            assert_eq!(answer["field"], field, "{body} -> {answer}");
        }
    }
}

#[tokio::test]
async fn query_syntax_characters_are_plain_text() {
    let base = app().await;
    for query in [
        "\"toner bas",
        "title:toner",
        "(bourrage AND tiroir) OR",
        "NOT",
        "*",
        "toner*",
        "bourrage~2",
        "a^3 [1 TO 5] {x}",
        "\\",
        "-",
        "C750 && || !",
        "+88 -toner",
        "'",
        ":::",
        "AND OR",
    ] {
        let (status, answer) = search(&base, json!({"query": query})).await;
        assert_eq!(status, 200, "{query} -> {answer}");
    }
}

#[tokio::test]
async fn model_filter_restricts_to_that_model_and_generic_entries() {
    let base = app().await;
    let (status, answer) = search(
        &base,
        json!({"query": "toner vide", "model_filter": "HL L2350DW", "limit": 20}),
    )
    .await;
    assert_eq!(status, 200);
    assert!(answer["count"].as_u64().unwrap() > 0);
    for r in answer["results"].as_array().unwrap() {
        let models: Vec<&str> = r["models"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| m.as_str().unwrap())
            .collect();
        assert!(
            models.is_empty() || models.contains(&"Brother HL-L2350DW"),
            "{r}"
        );
    }
    assert_eq!(answer["model_filter"], "Brother HL-L2350DW");

    let (status, answer) = search(
        &base,
        json!({"query": "toner vide", "model_filter": "Imprimante Inconnue 9000"}),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(answer["count"], 0);
    assert_eq!(answer["results"], json!([]));
}

#[tokio::test]
async fn every_mode_answers() {
    let base = app().await;
    for mode in ["bm25", "vector", "hybrid"] {
        let (status, answer) = search(
            &base,
            json!({"query": "the printout is very light and faded", "mode": mode}),
        )
        .await;
        assert_eq!(status, 200);
        assert_eq!(answer["mode"], mode);
        assert!(answer["count"].as_u64().unwrap() > 0, "{mode}");
    }
}

#[tokio::test]
async fn health_models_and_info() {
    let base = app().await;
    let health = reqwest::get(format!("{base}/health")).await.unwrap();
    assert_eq!(health.status().as_u16(), 200);
    let health: Value = health.json().await.unwrap();
    assert_eq!(health["status"], "ok");
    for part in ["index", "model", "vectors", "store"] {
        assert_eq!(health[part]["ok"], true, "{health}");
    }
    let models: Value = reqwest::get(format!("{base}/models"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let c750 = models["models"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["model_name"] == "Lexmark C750")
        .expect("C750 listed");
    assert!(c750["kb_entries"].as_u64().unwrap() >= 80);
    let info: Value = reqwest::get(format!("{base}/"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(info["service"], "devicekb");
    let missing = reqwest::get(format!("{base}/nope")).await.unwrap();
    assert_eq!(missing.status().as_u16(), 404);
    let body: Value = missing.json().await.unwrap();
    assert!(body["error"].is_string() && body["detail"].is_string());
}

#[tokio::test]
async fn oversized_bodies_are_refused_with_413() {
    let base = app().await;
    let body = json!({"query": "x".repeat(70 * 1024)}).to_string();
    let (status, answer) = post(&base, "/knowledge/search", body).await;
    assert_eq!(status, 413, "{answer}");
    assert!(answer["error"].is_string());
}

#[tokio::test]
async fn extract_answers_model_codes_serial_and_spans() {
    let base = app().await;
    let text = "Bonjour, notre Lexmark C750dn affiche 88 Toner cyan bas. N° de série : 79K1234. Tél. 06 12 34 56 78";
    let (status, answer) = post(&base, "/extract", json!({ "text": text }).to_string()).await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["model"], "Lexmark C750");
    assert_eq!(answer["manufacturer"], "Lexmark");
    assert_eq!(answer["error_codes"], json!(["88"]));
    assert_eq!(answer["serial"], "79K1234");
    let chars: Vec<char> = text.chars().collect();
    for entity in answer["entities"].as_array().unwrap() {
        let (start, end) = (
            entity["start"].as_u64().unwrap() as usize,
            entity["end"].as_u64().unwrap() as usize,
        );
        let span: String = chars[start..end].iter().collect();
        assert_eq!(span, entity["value"].as_str().unwrap(), "{entity}");
        assert!(entity["confidence"].as_f64().unwrap() > 0.0);
    }
    let kinds: Vec<&str> = answer["entities"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["kind"].as_str().unwrap())
        .collect();
    for kind in ["model", "manufacturer", "error_code", "serial"] {
        assert!(kinds.contains(&kind), "{kind} missing in {answer}");
    }

    // Nothing to find is an answer, not an error.
    let (status, answer) = post(
        &base,
        "/extract",
        json!({ "text": "Commande n° 4500123 : 3 cartouches à 49,90 €" }).to_string(),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(answer["model"], Value::Null);
    assert_eq!(answer["error_codes"], json!([]));
    assert_eq!(answer["entities"], json!([]));
}

#[tokio::test]
async fn extract_refuses_bad_input_in_the_error_format() {
    let base = app().await;
    let (status, answer) = post(&base, "/extract", json!({ "text": "  " }).to_string()).await;
    assert_eq!(status, 400, "{answer}");
    assert_eq!(answer["field"], "text");
    assert!(
        answer["detail"].as_str().unwrap().contains("empty"),
        "{answer}"
    );

    let (status, answer) = post(
        &base,
        "/extract",
        json!({ "text": "é".repeat(33 * 1024) }).to_string(),
    )
    .await;
    assert_eq!(status, 413, "{answer}");
    assert!(
        answer["error"].is_string() && answer["detail"].is_string(),
        "{answer}"
    );
    // Exactly 64 KiB is accepted.
    let (status, _) = post(
        &base,
        "/extract",
        json!({ "text": "a".repeat(64 * 1024) }).to_string(),
    )
    .await;
    assert_eq!(status, 200);

    for body in ["{\"text\": ", "{}", "{\"text\": 3}", "[]"] {
        let (status, answer) = post(&base, "/extract", body.to_string()).await;
        assert_eq!(status, 400, "{body}: {answer}");
        assert!(
            answer["error"].is_string() && answer["detail"].is_string(),
            "{answer}"
        );
    }
    // Invalid UTF-8 inside the JSON string.
    let response = reqwest::Client::new()
        .post(format!("{base}/extract"))
        .header("content-type", "application/json")
        .body(b"{\"text\": \"caf\xe9 88\"}".to_vec())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 400);
    let answer: Value = response.json().await.unwrap();
    assert!(answer["error"].is_string(), "{answer}");
}

#[tokio::test]
async fn search_uses_the_extraction() {
    let base = app().await;
    // The model named in a ticket restricts the search; the extracted code ranks first.
    let (status, answer) = search(
        &base,
        json!({"query": "Bonjour, la C750 du 2e étage affiche 88 depuis ce matin, on imprime 200 pages par jour", "limit": 5}),
    )
    .await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["model_filter"], "Lexmark C750");
    assert_eq!(answer["model_source"], "query");
    assert!(
        ids(&answer)[0].starts_with("lexmark-c750-msg-88"),
        "{answer}"
    );
}

#[tokio::test]
async fn answer_previews_a_decision_without_storing() {
    let base = app().await;
    let (status, answer) = post(
        &base,
        "/answer",
        json!({"text": "Bonjour, la C750 affiche 88 Toner cyan bas depuis ce matin."}).to_string(),
    )
    .await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["decision"], "auto", "{answer}");
    assert_eq!(answer["reason"], Value::Null);
    assert_eq!(
        answer["citations"][0]["kb_id"],
        "lexmark-c750-msg-88-toner-bas"
    );
    assert!(answer["reply"].as_str().unwrap().contains("88"));
    assert_eq!(answer["extraction"]["model"], "Lexmark C750");
    assert!(answer["retrieved"].as_array().unwrap().len() >= 2);
    assert!(answer["confidence"].as_f64().unwrap() > 0.5);

    let (status, answer) = post(
        &base,
        "/answer",
        json!({"text": "Je veux parler à un humain."}).to_string(),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(answer["decision"], "escalate");
    assert_eq!(answer["reason"], "human_requested");
    assert_eq!(answer["reply"], Value::Null);

    let (status, answer) = post(&base, "/answer", json!({"text": ""}).to_string()).await;
    assert_eq!(
        (status, answer["field"].as_str()),
        (400, Some("text")),
        "{answer}"
    );
    let (status, _) = post(
        &base,
        "/answer",
        json!({"text": "x".repeat(64 * 1024 + 1)}).to_string(),
    )
    .await;
    assert_eq!(status, 413);
    let (status, answer) = post(
        &base,
        "/answer",
        json!({"text": "88", "colour": "red"}).to_string(),
    )
    .await;
    assert_eq!(status, 400, "{answer}");
    assert!(
        answer["detail"].as_str().unwrap().contains("colour"),
        "{answer}"
    );
}
