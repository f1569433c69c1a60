//! Conversations over HTTP, on the embedded SQLite store, with the real pipeline: messages
//! join their ticket's conversation, agents reply and give feedback, bad input is named.

use crate::common;

use common::http::{app, call, new_customer};
use serde_json::json;

#[tokio::test]
async fn messages_join_their_conversation_and_agents_act_on_tickets() {
    use reqwest::Method;
    let base = app().await;
    let customer = new_customer(&base).await;

    // The shared test database outlives a run: keys are unique to this one.
    let mail_key = format!("mail-{}-{customer}", std::process::id());
    // A message from a new conversation opens a ticket and runs the pipeline.
    let first = json!({"customer_id": customer, "channel": "email", "direction": "inbound",
        "subject": "Bourrage papier C750",
        "body": "Bonjour, notre Lexmark C750 (n° de série 7921A0B) affiche 200.02 bourrage papier. Toute l'équipe est bloquée, c'est urgent."});
    let (status, opened) = call(
        Method::POST,
        format!("{base}/messages"),
        Some(first.clone()),
        Some(&mail_key),
    )
    .await;
    assert_eq!(status, 201, "{opened}");
    assert!(opened["new_ticket"].as_bool().unwrap(), "{opened}");
    let ticket = opened["ticket_id"].as_i64().unwrap();
    assert!(opened["pipeline"]["category"].is_string(), "{opened}");
    // Retried with the same key: the same message and ticket, nothing new.
    let (status, again) = call(
        Method::POST,
        format!("{base}/messages"),
        Some(first),
        Some(&mail_key),
    )
    .await;
    assert_eq!(status, 200, "{again}");
    assert_eq!(again["ticket_id"], ticket);
    assert_eq!(again["message_id"], opened["message_id"]);

    // The device was recorded from the serial number the extractor found.
    let (_, devices) = call(
        Method::GET,
        format!("{base}/customers/{customer}/devices"),
        None,
        None,
    )
    .await;
    assert_eq!(devices["devices"][0]["serial"], "7921A0B", "{devices}");
    assert_eq!(devices["devices"][0]["model"], "Lexmark C750");

    // A reply on the same subject joins the open ticket and waits for a person.
    let (status, follow) = call(Method::POST, format!("{base}/messages"),
        Some(json!({"customer_id": customer, "channel": "email", "direction": "inbound",
            "subject": "RE: Bourrage papier C750", "body": "Toujours bloqué après avoir ouvert la porte.",
            "attachments": [{"filename": "ecran.jpg", "content_type": "image/jpeg", "size_bytes": 81234,
                "sha256": "9F86D081884C7D659A2FEAA0C55AD015A3BF4F1B2B0B822CD15D6C15B0F00A08"}]})), None).await;
    assert_eq!(status, 201, "{follow}");
    assert_eq!(follow["ticket_id"], ticket, "{follow}");
    assert!(!follow["new_ticket"].as_bool().unwrap());
    let (_, waiting) = call(
        Method::GET,
        format!("{base}/messages/unprocessed?limit=500"),
        None,
        None,
    )
    .await;
    assert!(
        waiting["messages"]
            .as_array()
            .unwrap()
            .iter()
            .any(|m| m["id"] == follow["message_id"]),
        "{waiting}"
    );

    // A call transcription on another topic, by explicit ticket id.
    let (status, call_msg) = call(
        Method::POST,
        format!("{base}/messages"),
        Some(
            json!({"ticket_id": ticket, "channel": "call", "direction": "inbound", "body": "",
            "transcription": "le client rappelle, toujours le bourrage"}),
        ),
        None,
    )
    .await;
    assert_eq!(status, 201, "{call_msg}");
    assert_eq!(call_msg["ticket_id"], ticket);

    // An external extractor's findings are recorded next to ours.
    let (status, x) = call(
        Method::POST,
        format!("{base}/extractions"),
        Some(
            json!({"ticket_id": ticket, "message_id": follow["message_id"], "source": "ner-v2",
            "model": "Lexmark C750", "error_codes": ["200.02"]}),
        ),
        None,
    )
    .await;
    assert_eq!(status, 201, "{x}");

    // The agent answers: response, outbound message, messages handled, status answered.
    let (status, replied) = call(
        Method::POST,
        format!("{base}/tickets/{ticket}/reply"),
        Some(json!({"body": "Bonjour, un technicien passe demain matin.", "author": "julie"})),
        None,
    )
    .await;
    assert_eq!(status, 201, "{replied}");
    assert_eq!(replied["status"], "answered");
    let (_, waiting) = call(
        Method::GET,
        format!("{base}/messages/unprocessed?limit=500"),
        None,
        None,
    )
    .await;
    assert!(
        !waiting["messages"]
            .as_array()
            .unwrap()
            .iter()
            .any(|m| m["ticket_id"] == ticket),
        "{waiting}"
    );
    let (_, details) = call(Method::GET, format!("{base}/tickets/{ticket}"), None, None).await;
    assert_eq!(details["device"]["serial"], "7921A0B", "{details}");
    assert_eq!(
        details["messages"].as_array().unwrap().len(),
        4,
        "{details}"
    );
    let with_file = details["messages"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["id"] == follow["message_id"])
        .unwrap()
        .clone();
    assert_eq!(
        with_file["attachments"][0]["filename"], "ecran.jpg",
        "{details}"
    );
    assert_eq!(
        with_file["attachments"][0]["sha256"],
        "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"
    );
    assert_eq!(
        details["responses"].as_array().unwrap().last().unwrap()["responder"],
        "agent"
    );
    assert!(details["extractions"]
        .as_array()
        .unwrap()
        .iter()
        .any(|e| e["source"] == "ner-v2"));
    let last = details["history"]
        .as_array()
        .unwrap()
        .last()
        .unwrap()
        .clone();
    assert_eq!(
        (last["to_status"].as_str(), last["actor"].as_str()),
        (Some("answered"), Some("julie"))
    );

    // Feedback needs an automatic reply: this escalated ticket has none.
    // (An escalated ticket's automatic draft was never sent: it cannot be rated.)
    let escalated = details["responses"]
        .as_array()
        .unwrap()
        .iter()
        .all(|r| r["responder"] != "auto" || r["send_status"] == "draft");
    let (status, fb) = call(
        Method::POST,
        format!("{base}/tickets/{ticket}/feedback"),
        Some(json!({"helpful": false})),
        None,
    )
    .await;
    if escalated {
        assert_eq!(status, 409, "{fb}");
    } else {
        assert_eq!(status, 200, "{fb}");
    }

    // An automatic reply rated unhelpful reopens its ticket.
    let (_, auto) = call(Method::POST, format!("{base}/tickets"),
        Some(json!({"customer_id": customer, "subject": "C750", "description": "La C750 affiche 88 Toner cyan bas."})), None).await;
    assert_eq!(auto["status"], "auto_resolved", "{auto}");
    let auto_id = auto["ticket_id"].as_i64().unwrap();
    let (status, fb) = call(
        Method::POST,
        format!("{base}/tickets/{auto_id}/feedback"),
        Some(json!({"helpful": false, "comment": "le message reste affiché"})),
        None,
    )
    .await;
    assert_eq!(status, 200, "{fb}");
    assert_eq!(fb["status"], "open");

    // Statistics.
    let (status, stats) = call(Method::GET, format!("{base}/stats/tickets"), None, None).await;
    assert_eq!(status, 200, "{stats}");
    assert!(stats["total"].as_i64().unwrap() >= 2);
    assert!(
        stats["by_model"]
            .as_array()
            .unwrap()
            .iter()
            .any(|c| c["value"] == "Lexmark C750"),
        "{stats}"
    );
    let (status, pipeline) = call(
        Method::GET,
        format!("{base}/stats/pipeline?days=7"),
        None,
        None,
    )
    .await;
    assert_eq!(status, 200, "{pipeline}");
    let days = pipeline["days"].as_array().unwrap();
    assert_eq!(days.len(), 7);
    let today = days.last().unwrap();
    assert!(today["tickets"].as_i64().unwrap() >= 2, "{pipeline}");
    assert!(today["p95_ms"].as_f64().unwrap() >= today["mean_ms"].as_f64().unwrap() * 0.5);
    let pct =
        today["auto_resolved_pct"].as_f64().unwrap() + today["escalated_pct"].as_f64().unwrap();
    assert!(pct <= 100.0 + 1e-9, "{today}");
}

#[tokio::test]
async fn conversation_input_errors_are_named() {
    use reqwest::Method;
    let base = app().await;
    let customer = new_customer(&base).await;
    let cases = [
        (
            json!({"customer_id": customer, "channel": "fax", "direction": "inbound", "body": "x"}),
            422,
            "channel",
        ),
        (
            json!({"customer_id": customer, "channel": "sms", "direction": "sideways", "body": "x"}),
            422,
            "direction",
        ),
        (
            json!({"customer_id": customer, "channel": "sms", "direction": "inbound", "body": "  "}),
            422,
            "body",
        ),
        (
            json!({"channel": "sms", "direction": "inbound", "body": "x"}),
            422,
            "customer_id",
        ),
        (
            json!({"customer_id": 987654321, "channel": "sms", "direction": "inbound", "body": "x"}),
            404,
            "customer_id",
        ),
        (
            json!({"ticket_id": 987654321, "channel": "sms", "direction": "inbound", "body": "x"}),
            404,
            "ticket_id",
        ),
        (
            json!({"customer_id": customer, "channel": "sms", "direction": "outbound", "body": "x", "subject": "nouveau sujet"}),
            422,
            "direction",
        ),
        (
            json!({"customer_id": customer, "channel": "sms", "direction": "inbound", "body": "x", "colour": "red"}),
            400,
            "colour",
        ),
        (
            json!({"customer_id": customer, "channel": "sms", "direction": "inbound", "body": "x",
                "attachments": [{"filename": "a.pdf", "sha256": "abc"}]}),
            422,
            "attachments[0].sha256",
        ),
        (
            json!({"customer_id": customer, "channel": "sms", "direction": "inbound", "body": "x",
                "attachments": [{"filename": " "}]}),
            422,
            "attachments[0].filename",
        ),
    ];
    for (body, expected, field) in cases {
        let (status, error) = call(
            Method::POST,
            format!("{base}/messages"),
            Some(body.clone()),
            None,
        )
        .await;
        assert_eq!(status, expected, "{body} -> {error}");
        assert!(
            error["detail"].as_str().unwrap_or_default().contains(field)
                || error["error"].as_str().unwrap_or_default().contains(field),
            "{body} -> {error}"
        );
    }
    let huge = "a".repeat(70 * 1024);
    let (status, error) = call(Method::POST, format!("{base}/messages"),
        Some(json!({"customer_id": customer, "channel": "sms", "direction": "inbound", "body": huge})), None).await;
    assert_eq!(status, 413, "{error}");

    let (status, e) = call(
        Method::POST,
        format!("{base}/tickets/987654321/reply"),
        Some(json!({"body": "x"})),
        None,
    )
    .await;
    assert_eq!(status, 404, "{e}");
    let (status, e) = call(
        Method::POST,
        format!("{base}/tickets/987654321/feedback"),
        Some(json!({"helpful": true})),
        None,
    )
    .await;
    assert_eq!(status, 404, "{e}");
    let (status, e) = call(
        Method::POST,
        format!("{base}/tickets/1/feedback"),
        Some(json!({"helpful": "yes"})),
        None,
    )
    .await;
    assert_eq!(status, 400, "{e}");
    let (status, e) = call(
        Method::POST,
        format!("{base}/extractions"),
        Some(json!({"ticket_id": 987654321, "source": "x"})),
        None,
    )
    .await;
    assert_eq!(status, 404, "{e}");
    assert!(
        e["detail"]
            .as_str()
            .unwrap_or_default()
            .contains("ticket_id")
            || e["error"]
                .as_str()
                .unwrap_or_default()
                .contains("ticket_id"),
        "{e}"
    );
    let (status, e) = call(
        Method::POST,
        format!("{base}/devices"),
        Some(json!({"customer_id": customer})),
        None,
    )
    .await;
    assert_eq!(status, 422, "{e}");
    let (status, e) = call(
        Method::POST,
        format!("{base}/devices"),
        Some(json!({"customer_id": 987654321, "serial": "S1"})),
        None,
    )
    .await;
    assert_eq!(status, 404, "{e}");
    let (status, device) = call(
        Method::POST,
        format!("{base}/devices"),
        Some(json!({"customer_id": customer, "model": "lexmark c750dn", "serial": "S1"})),
        None,
    )
    .await;
    assert_eq!(status, 201, "{device}");
    assert_eq!(
        device["model"], "Lexmark C750",
        "the catalogue names the model"
    );
    let (status, e) = call(
        Method::GET,
        format!("{base}/stats/pipeline?days=0"),
        None,
        None,
    )
    .await;
    assert_eq!(status, 400, "{e}");
    let (status, e) = call(
        Method::GET,
        format!("{base}/messages/unprocessed?limit=501"),
        None,
        None,
    )
    .await;
    assert_eq!(status, 422, "{e}");
}
