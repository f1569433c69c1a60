//! The round trips that start from a customer with a device: devices and the catalogue,
//! a conversation with its pipeline records, and the figures the stats read.

use std::sync::Arc;

use devicekb::store::{Priority, ResponderKind, SendStatus, Status, StepStatus, Store};
use devicekb::Error;

use super::{customer, key, ticket};

/// The catalogue rows of one model.
fn lexmark_c750() -> Vec<devicekb::store::CatalogueModel> {
    vec![devicekb::store::CatalogueModel {
        canonical: "Lexmark C750".into(),
        manufacturer: "Lexmark".into(),
        name: "C750".into(),
        series: Some("C".into()),
        kind: Some("color laser".into()),
    }]
}

/// A customer with a Lexmark C750 linked to the catalogue.
async fn customer_with_device(
    store: &Arc<dyn Store>,
) -> (devicekb::store::Customer, devicekb::store::Device) {
    use devicekb::store::NewDevice;
    let c = store
        .create_customer(&customer("Garage Petit", None))
        .await
        .unwrap();
    store.sync_catalogue(&lexmark_c750()).await.unwrap();
    let device = store
        .create_device(&NewDevice {
            customer_id: c.id,
            model: Some("Lexmark C750".into()),
            serial: Some("7921ABC".into()),
            location: Some("accueil".into()),
        })
        .await
        .unwrap();
    (c, device)
}

pub async fn devices_round_trip(store: Arc<dyn Store>) {
    use devicekb::store::NewDevice;
    let (c, device) = customer_with_device(&store).await;
    // The catalogue rows devices point to, idempotent on a second sync.
    store.sync_catalogue(&lexmark_c750()).await.unwrap();
    let again = store.device(device.id).await.unwrap().unwrap();
    assert_eq!(again.manufacturer.as_deref(), Some("Lexmark"), "{again:?}");
    assert_eq!(store.devices(c.id).await.unwrap().len(), 1);
    assert_eq!(
        device.manufacturer.as_deref(),
        Some("Lexmark"),
        "linked to the catalogue"
    );
    let unknown_model = store
        .create_device(&NewDevice {
            customer_id: c.id,
            model: Some("Olivetti Lettera 32".into()),
            serial: None,
            location: None,
        })
        .await
        .unwrap();
    assert_eq!(unknown_model.model.as_deref(), Some("Olivetti Lettera 32"));
    assert_eq!(unknown_model.manufacturer, None);
    let same_serial = store
        .create_device(&NewDevice {
            customer_id: c.id,
            model: None,
            serial: Some("7921ABC".into()),
            location: None,
        })
        .await;
    assert!(
        matches!(same_serial, Err(Error::Conflict(_))),
        "{same_serial:?}"
    );
    let nobody = store
        .create_device(&NewDevice {
            customer_id: c.id + 999,
            model: None,
            serial: Some("X".into()),
            location: None,
        })
        .await;
    assert!(matches!(nobody, Err(Error::NotFound { .. })), "{nobody:?}");
    assert_eq!(store.devices(c.id).await.unwrap().len(), 2);
}

pub async fn conversation_round_trip(store: Arc<dyn Store>) {
    use devicekb::store::{Channel, Direction, NewMessage, PredictionRecord, ResponseRecord};
    use serde_json::json;
    let (c, device) = customer_with_device(&store).await;

    let (t, _) = store
        .create_ticket(&ticket(c.id, "Bourrage"), "api")
        .await
        .unwrap();
    let inbound = |with_key: Option<&str>| NewMessage {
        ticket_id: t.id,
        customer_id: Some(c.id),
        direction: Direction::Inbound,
        channel: Channel::Sms,
        subject: None,
        body: "ça bourre encore".into(),
        transcription: None,
        processed: false,
        idempotency: with_key.map(|k| key(k, 'a')),
        attachments: vec![devicekb::store::NewAttachment {
            filename: "photo.jpg".into(),
            content_type: Some("image/jpeg".into()),
            size_bytes: Some(48_213),
            sha256: None,
        }],
    };
    let (first, created) = store.add_message(&inbound(Some("sms-1"))).await.unwrap();
    assert!(created);
    let (again, created) = store.add_message(&inbound(Some("sms-1"))).await.unwrap();
    assert!(!created, "the same key stores nothing new");
    assert_eq!(again.id, first.id);
    store.add_message(&inbound(None)).await.unwrap();
    let stored = store.messages(t.id).await.unwrap();
    assert_eq!(stored.len(), 2);
    assert_eq!(stored[0].attachments.len(), 1, "{stored:?}");
    assert_eq!(stored[0].attachments[0].meta.size_bytes, Some(48_213));
    assert_eq!(
        again.attachments.len(),
        1,
        "a retry answers the stored attachments"
    );
    assert_eq!(
        store
            .message_by_key(&key("sms-1", 'a'))
            .await
            .unwrap()
            .unwrap()
            .channel,
        Channel::Sms
    );
    let waiting = store.unprocessed_messages(10).await.unwrap();
    assert_eq!(waiting.len(), 2);
    assert_eq!(store.mark_processed(t.id).await.unwrap(), 2);
    assert!(store.unprocessed_messages(10).await.unwrap().is_empty());
    assert_eq!(store.open_tickets(c.id, 10).await.unwrap()[0].id, t.id);

    // Predictions and what classification sets on the ticket.
    store
        .add_prediction(
            t.id,
            &PredictionRecord {
                task: "churn_risk".into(),
                label: "high".into(),
                confidence: 0.8,
                score: Some(85.0),
                model: "m".into(),
                version: "1".into(),
            },
        )
        .await
        .unwrap();
    let bad = PredictionRecord {
        task: "horoscope".into(),
        label: "x".into(),
        confidence: 0.5,
        score: None,
        model: "m".into(),
        version: "1".into(),
    };
    assert!(store.add_prediction(t.id, &bad).await.is_err());
    assert_eq!(
        store.predictions(t.id).await.unwrap()[0].record.score,
        Some(85.0)
    );
    store
        .classify_ticket(
            t.id,
            Some("technique"),
            Some(Priority::High),
            true,
            Some(device.id),
        )
        .await
        .unwrap();
    let classified = store.ticket(t.id).await.unwrap().unwrap();
    assert_eq!(classified.category.as_deref(), Some("technique"));
    assert_eq!(classified.priority, Priority::High);
    assert!(classified.retention_flag);
    assert_eq!(classified.device_id, Some(device.id));

    // One message handled by id; an agent's reply handles the rest, in one transaction.
    let (third, _) = store.add_message(&inbound(None)).await.unwrap();
    store.mark_message_processed(third.id).await.unwrap();
    assert!(store.unprocessed_messages(10).await.unwrap().is_empty());
    store.add_message(&inbound(None)).await.unwrap();
    let agent_response = ResponseRecord {
        responder: ResponderKind::Agent,
        author: Some("julie".into()),
        body: "Un technicien passe demain.".into(),
        citations: json!([]),
        confidence: None,
        send_status: SendStatus::Pending,
        llm_model: None,
        prompt_tokens: None,
        completion_tokens: None,
        latency_ms: None,
    };
    let outbound = NewMessage {
        direction: Direction::Outbound,
        body: "Un technicien passe demain.".into(),
        processed: true,
        attachments: Vec::new(),
        ..inbound(None)
    };
    let replied = store
        .record_agent_reply(t.id, &agent_response, &outbound, Status::Answered, "julie")
        .await
        .unwrap();
    assert_eq!(replied.status, Status::Answered);
    assert!(store.unprocessed_messages(10).await.unwrap().is_empty());
    let last = store.history(t.id).await.unwrap().pop().unwrap();
    assert_eq!(
        (last.to_status, last.actor.as_str()),
        (Status::Answered, "julie")
    );
    assert_eq!(
        store
            .messages(t.id)
            .await
            .unwrap()
            .last()
            .unwrap()
            .direction,
        Direction::Outbound
    );
    let missing = store
        .record_agent_reply(
            t.id + 999,
            &agent_response,
            &outbound,
            Status::Answered,
            "julie",
        )
        .await;
    assert!(
        matches!(missing, Err(Error::NotFound { .. })),
        "{missing:?}"
    );

    // Feedback goes to the latest automatic reply that was sent; none yet.
    assert_eq!(store.set_feedback(t.id, true, None).await.unwrap(), None);
    let response = ResponseRecord {
        responder: ResponderKind::Auto,
        author: Some("extractive".into()),
        body: "1. Ouvrir la porte.".into(),
        citations: json!(["a"]),
        confidence: Some(0.9),
        send_status: SendStatus::Pending,
        llm_model: None,
        prompt_tokens: None,
        completion_tokens: None,
        latency_ms: None,
    };
    let response_id = store.add_response(t.id, &response).await.unwrap();
    assert_eq!(
        store
            .set_feedback(t.id, false, Some("toujours bloqué"))
            .await
            .unwrap(),
        Some(response_id)
    );
}

pub async fn figures_round_trip(store: Arc<dyn Store>) {
    use devicekb::store::{DailyMetrics, KbEntryRow, StepRecord};
    let (c, device) = customer_with_device(&store).await;
    let (t, _) = store
        .create_ticket(&ticket(c.id, "Bourrage"), "api")
        .await
        .unwrap();
    store
        .classify_ticket(
            t.id,
            Some("technique"),
            Some(Priority::High),
            true,
            Some(device.id),
        )
        .await
        .unwrap();

    // Figures.
    store
        .add_step(
            t.id,
            &StepRecord {
                step: "retrieval".into(),
                status: StepStatus::Ok,
                duration_ms: 12.5,
                error: None,
            },
        )
        .await
        .unwrap();
    store
        .set_status(t.id, Status::AutoResolved, None, "pipeline", None)
        .await
        .unwrap();
    let stats = store.ticket_stats().await.unwrap();
    assert_eq!(stats.total, 1);
    assert_eq!(stats.by_status[0].value.as_deref(), Some("auto_resolved"));
    assert_eq!(stats.by_category[0].value.as_deref(), Some("technique"));
    assert_eq!(stats.by_model[0].value.as_deref(), Some("Lexmark C750"));
    assert_eq!(stats.retention_flagged, 1);
    let outcomes = store.ticket_outcomes("2000-01-01").await.unwrap();
    assert_eq!(outcomes.len(), 1);
    assert!(outcomes[0].auto_resolved && !outcomes[0].escalated);
    assert!((outcomes[0].processing_ms - 12.5).abs() < 1e-9);
    assert_eq!(outcomes[0].day.len(), 10);
    assert!(store
        .ticket_outcomes("2999-01-01")
        .await
        .unwrap()
        .is_empty());
    let day = DailyMetrics {
        day: outcomes[0].day.clone(),
        tickets: 1,
        auto_resolved: 1,
        escalated: 0,
        mean_ms: Some(12.5),
        p95_ms: Some(12.5),
    };
    store
        .put_daily_metrics(std::slice::from_ref(&day))
        .await
        .unwrap();
    store
        .put_daily_metrics(std::slice::from_ref(&day))
        .await
        .unwrap();
    assert_eq!(store.daily_metrics("2000-01-01").await.unwrap(), vec![day]);

    let entries = vec![KbEntryRow {
        id: "lexmark-c750-88".into(),
        title: "88 Toner bas".into(),
        content_hash: "abc".into(),
    }];
    store.sync_kb_entries(&entries, "gen-000001").await.unwrap();
    store.sync_kb_entries(&entries, "gen-000002").await.unwrap();
    assert_eq!(store.kb_entry_count("gen-000002").await.unwrap(), 1);
    assert_eq!(store.kb_entry_count("gen-000001").await.unwrap(), 0);
}
