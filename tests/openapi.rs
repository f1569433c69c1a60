//! The OpenAPI document: every route of the table is in it (and nothing else), with its
//! schemas, security and error answers; and what the real server answers on every route
//! matches the documented schema of that route and status, field for field.

#[path = "openapi/check.rs"]
mod check;
#[path = "openapi/client.rs"]
mod client;
use crate::common;

use std::collections::BTreeSet;

use devicekb::api::{openapi_document, route_table, Verb};
use devicekb::service::access::Rule;
use serde_json::{json, Value};

use check::{conforms, references, resolve};
use client::Client;

fn document() -> Value {
    serde_json::from_str(openapi_document()).expect("the document is JSON")
}

fn method(verb: Verb) -> &'static str {
    match verb {
        Verb::Get => "get",
        Verb::Post => "post",
        Verb::Patch => "patch",
    }
}

#[test]
fn every_route_is_in_the_document_with_its_schemas_security_and_errors() {
    let doc = document();
    assert_eq!(doc["openapi"], "3.1.0");
    let table = route_table();
    let mut documented = BTreeSet::new();
    for (path, item) in doc["paths"].as_object().expect("paths") {
        for verb in item.as_object().unwrap().keys() {
            documented.insert(format!("{} {path}", verb.to_uppercase()));
        }
    }
    let served: BTreeSet<String> = table
        .iter()
        .map(|r| format!("{} {}", r.verb.as_str(), r.path))
        .collect();
    assert_eq!(
        served.difference(&documented).collect::<Vec<_>>(),
        Vec::<&String>::new(),
        "routes served but not documented"
    );
    assert_eq!(
        documented.difference(&served).collect::<Vec<_>>(),
        Vec::<&String>::new(),
        "routes documented but not served"
    );

    let mut operation_ids = BTreeSet::new();
    for route in &table {
        let name = format!("{} {}", route.verb.as_str(), route.path);
        let op = &doc["paths"][route.path][method(route.verb)];
        assert!(
            operation_ids.insert(op["operationId"].as_str().unwrap().to_string()),
            "{name}: operationId repeated"
        );
        assert!(
            op["summary"].as_str().is_some_and(|s| !s.is_empty()),
            "{name}: no summary"
        );
        let responses = op["responses"].as_object().unwrap();
        assert!(
            responses.keys().any(|status| status.starts_with('2')),
            "{name}: no success answer"
        );
        assert!(responses.contains_key("500"), "{name}: no 500");
        for (status, response) in responses {
            if status.starts_with('4') || status == "500" {
                assert_eq!(
                    response["content"]["application/json"]["schema"]["$ref"],
                    "#/components/schemas/ErrorBody",
                    "{name}: {status} is not the error shape"
                );
            }
        }
        // The admin actions take no body: what they act on is the KB folder.
        if route.verb != Verb::Get && !["/admin/reindex", "/admin/learn"].contains(&route.path) {
            let body = &op["requestBody"]["content"]["application/json"]["schema"];
            assert!(body.get("$ref").is_some(), "{name}: no request schema");
            assert!(
                responses.contains_key("400") && responses.contains_key("422"),
                "{name}"
            );
        }
        if route.path.contains("{id}") {
            let params = op["parameters"].as_array().expect("parameters");
            assert!(
                params
                    .iter()
                    .any(|p| p["name"] == "id" && p["in"] == "path"),
                "{name}"
            );
            assert!(responses.contains_key("404"), "{name}: no 404");
        }
        let security = op["security"]
            .as_array()
            .expect("security is always stated");
        match route.rule {
            Rule::Anyone => assert!(security.is_empty(), "{name}: a probe asks for a key"),
            Rule::Needs(_) => {
                assert_eq!(security.len(), 2, "{name}: bearer or X-Api-Key");
                assert!(!security.iter().any(|s| s.as_object().unwrap().is_empty()));
                assert!(responses.contains_key("401") && responses.contains_key("403"));
            }
            Rule::Intake(_) => assert!(
                security.iter().any(|s| s.as_object().unwrap().is_empty()),
                "{name}: intake may be anonymous when the public intake is on"
            ),
        }
    }

    let mut refs = Vec::new();
    references(&doc, &mut refs);
    assert!(refs.len() > 50);
    for reference in &refs {
        resolve(&doc, &json!({ "$ref": reference }));
    }
    let schemes = &doc["components"]["securitySchemes"];
    assert_eq!(schemes["bearer"]["scheme"], "bearer");
    assert_eq!(schemes["api_key"]["name"], "X-Api-Key");
}

#[test]
fn the_check_refuses_what_the_document_does_not_say() {
    let doc = document();
    let schema = json!({ "$ref": "#/components/schemas/TicketCreated" });
    let good = json!({
        "ticket_id": 1, "status": "escalated", "created": true, "citations": [],
        "priority": "low", "retention_flag": false, "decision": null,
        "classification_pending": false,
    });
    conforms(&doc, &schema, &good, "a ticket created");
    let mut missing = good.clone();
    missing.as_object_mut().unwrap().remove("ticket_id");
    let mut extra = good.clone();
    extra["surprise"] = json!(1);
    let mut nested = good.clone();
    nested["citations"] = json!([{ "kb_id": "a", "title": "b", "unexpected": true }]);
    let mut wrong_type = good.clone();
    wrong_type["priority"] = json!("urgent-ish");
    for (what, bad) in [
        ("missing", missing),
        ("extra", extra),
        ("nested", nested),
        ("type", wrong_type),
    ] {
        let doc = doc.clone();
        let schema = schema.clone();
        let refused = std::panic::catch_unwind(move || conforms(&doc, &schema, &bad, what));
        assert!(refused.is_err(), "{what} was not refused");
    }
}

fn keep(id: &str) -> bool {
    id.starts_with("lexmark-c750-msg-88") || id.contains("bourrage") || id.contains("jam")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_answer_of_the_real_server_matches_its_documented_schema() {
    let kb = common::small_kb(keep);
    let data = tempfile::tempdir().unwrap();
    let service = common::start_service(kb.path(), data.path()).await;
    common::warm(&service).await;
    let base = common::spawn_app(service).await;
    let doc = document();
    let mut c = Client {
        base,
        http: reqwest::Client::new(),
        doc,
        called: BTreeSet::new(),
    };
    use Verb::{Get, Patch, Post};

    // The document served is the one built, and the docs page needs nothing from outside.
    let (_, served) = c.call(Get, "/openapi.json", "/openapi.json", None).await;
    let served: Value = serde_json::from_str(served.as_str().unwrap()).unwrap();
    assert_eq!(served, c.doc);
    let (_, page) = c.call(Get, "/docs", "/docs", None).await;
    let page = page.as_str().unwrap().to_string();
    assert!(
        !page.contains("http://") && !page.contains("https://"),
        "{page}"
    );
    for asset in ["/docs/swagger-ui.css", "/docs/swagger-ui-bundle.js"] {
        assert!(page.contains(asset));
        let (status, body) = c.call(Get, asset, asset, None).await;
        assert_eq!(status, 200);
        assert!(
            body.as_str().unwrap().len() > 100_000,
            "{asset} is the vendored file"
        );
    }

    for probe in ["/livez", "/readyz", "/health", "/", "/models", "/metrics"] {
        let (status, _) = c.call(Get, probe, probe, None).await;
        assert_eq!(status, 200, "{probe}");
    }

    let (status, _) = c
        .call(
            Post,
            "/knowledge/search",
            "/knowledge/search",
            Some(json!({ "query": "bourrage papier", "limit": 3 })),
        )
        .await;
    assert_eq!(status, 200);
    let (status, _) = c
        .call(
            Post,
            "/answer",
            "/answer",
            Some(json!({ "text": "Ma Lexmark C750 affiche 88 toner bas" })),
        )
        .await;
    assert_eq!(status, 200);
    let (status, _) = c
        .call(
            Post,
            "/extract",
            "/extract",
            Some(json!({ "text": "C750dn erreur 88, série 7921-ABC" })),
        )
        .await;
    assert_eq!(status, 200);

    // The earlier project's field names, documented beside today's.
    let (status, customer) = c
        .call(
            Post,
            "/customers",
            "/customers",
            Some(json!({
                "company_name": "Imprimerie Durand",
                "contact_name": "Claire Durand",
                "contact_email": "claire@durand.example",
                "contact_phone": "+33 1 23 45 67 89",
                "address": "3 rue des Presses, Lyon",
            })),
        )
        .await;
    assert_eq!(status, 201);
    let customer_id = customer["customer_id"].as_i64().unwrap();
    c.call(Get, "/customers", "/customers?limit=5", None).await;
    let (status, _) = c
        .call(Post, "/devices", "/devices", Some(json!({ "customer_id": customer_id, "model": "Lexmark C750", "serial": "7921-ABC" })))
        .await;
    assert_eq!(status, 201);
    c.call(
        Get,
        "/customers/{id}/devices",
        &format!("/customers/{customer_id}/devices"),
        None,
    )
    .await;

    let (status, created) = c
        .call(
            Post,
            "/tickets",
            "/tickets",
            Some(json!({
                "customer_id": customer_id,
                "subject": "Bourrage papier",
                "description": "Ma Lexmark C750 a un bourrage papier à chaque impression",
            })),
        )
        .await;
    assert_eq!(status, 201);
    let ticket_id = created["ticket_id"].as_i64().unwrap();
    let ticket = format!("/tickets/{ticket_id}");
    c.call(Get, "/tickets", "/tickets?limit=10", None).await;
    c.call(Get, "/tickets/{id}", &ticket, None).await;
    let (status, _) = c
        .call(
            Post,
            "/tickets/{id}/reply",
            &format!("{ticket}/reply"),
            Some(json!({ "body": "Ouvrez le capot avant et retirez la feuille." })),
        )
        .await;
    assert_eq!(status, 201);
    let (status, _) = c
        .call(
            Patch,
            "/tickets/{id}",
            &ticket,
            Some(json!({ "status": "closed", "note": "résolu" })),
        )
        .await;
    assert_eq!(status, 200);
    // Rated or not, the answer is one the document lists (200, or 409 with no auto reply).
    c.call(
        Post,
        "/tickets/{id}/feedback",
        &format!("{ticket}/feedback"),
        Some(json!({ "helpful": true })),
    )
    .await;

    let (status, _) = c
        .call(
            Post,
            "/messages",
            "/messages",
            Some(json!({
                "channel": "email",
                "direction": "inbound",
                "customer_id": customer_id,
                "subject": "Erreur 88",
                "body": "Bonjour, ma C750 affiche 88.",
            })),
        )
        .await;
    assert!(status == 201 || status == 200, "{status}");
    c.call(
        Get,
        "/messages/unprocessed",
        "/messages/unprocessed?limit=5",
        None,
    )
    .await;
    let (status, _) = c
        .call(
            Post,
            "/extractions",
            "/extractions",
            Some(json!({
                "ticket_id": ticket_id,
                "extractor_name": "ner-v2",
                "extracted_fields": { "printer_model": "Lexmark C750", "error_code": "88" },
                "confidence": 0.9,
            })),
        )
        .await;
    assert_eq!(status, 201);
    c.call(Get, "/stats/tickets", "/stats/tickets", None).await;
    c.call(Get, "/stats/pipeline", "/stats/pipeline?days=7", None)
        .await;
    let (status, _) = c
        .call(Post, "/admin/reindex", "/admin/reindex?wait=true", None)
        .await;
    assert_eq!(status, 200);
    let (status, learned) = c
        .call(Post, "/admin/learn", "/admin/learn?dry_run=true", None)
        .await;
    assert_eq!((status, learned["written"].as_bool()), (200, Some(false)));
    let (status, task) = c.call(Post, "/admin/reindex", "/admin/reindex", None).await;
    assert_eq!(status, 202);
    let task_path = format!("/admin/tasks/{}", task["id"]);
    while c.call(Get, "/admin/tasks/{id}", &task_path, None).await.1["status"] == "running" {
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    let (status, tasks) = c.call(Get, "/admin/tasks", "/admin/tasks", None).await;
    assert_eq!(
        (status, tasks["tasks"].as_array().map(Vec::len)),
        (200, Some(2))
    );

    // Error answers have the documented shape too.
    let (status, error) = c
        .call_wrong(
            Post,
            "/tickets",
            "/tickets",
            json!({ "customer_id": "one" }),
        )
        .await;
    assert_eq!(status, 400);
    assert_eq!(error["field"], "customer_id");
    let (status, _) = c.call(Get, "/tickets/{id}", "/tickets/999999", None).await;
    assert_eq!(status, 404);
    let (status, error) = c
        .call(
            Post,
            "/customers",
            "/customers",
            Some(json!({ "name": " " })),
        )
        .await;
    assert_eq!(status, 422);
    assert_eq!(error["field"], "name");
    let (status, error) = c
        .call(
            Post,
            "/customers",
            "/customers",
            Some(json!({ "name": "A", "contact_name": "B" })),
        )
        .await;
    assert_eq!(status, 422, "two different names: {error}");

    let every: BTreeSet<String> = route_table()
        .iter()
        .map(|r| format!("{} {}", r.verb.as_str(), r.path))
        .collect();
    assert_eq!(
        every.difference(&c.called).collect::<Vec<_>>(),
        Vec::<&String>::new(),
        "routes this test does not check against the document"
    );
}
