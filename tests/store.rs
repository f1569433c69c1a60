//! One store test suite, run against SQLite (a temporary file) and against the MariaDB /
//! MySQL server at `DEVICEKB_TEST_MYSQL_URL` (default `mysql://root@127.0.0.1:3306`, as on
//! the CI machines): a fresh database per test, dropped afterwards.

use std::sync::Arc;

use devicekb::store::{
    self, Channel, IdempotencyKey, NewCustomer, NewTicket, Priority, ResponderKind, SendStatus,
    Status, StepStatus, Store, TicketFilter,
};
use devicekb::Error;

mod common;

use common::db::TestDb;

fn customer(name: &str, email: Option<&str>) -> NewCustomer {
    NewCustomer {
        name: name.into(),
        email: email.map(str::to_string),
        ..Default::default()
    }
}

fn ticket(customer_id: i64, subject: &str) -> NewTicket {
    NewTicket {
        customer_id,
        device_id: None,
        subject: subject.into(),
        description: "la C750 affiche 88".into(),
        channel: Channel::Email,
        priority: Priority::Medium,
        idempotency: None,
    }
}

fn key(key: &str, request_hash: char) -> IdempotencyKey {
    IdempotencyKey {
        key: key.into(),
        request_hash: request_hash.to_string().repeat(64),
    }
}

async fn customers_round_trip(store: Arc<dyn Store>) {
    let a = store
        .create_customer(&customer("Cabinet Arnaud", Some("contact@arnaud.fr")))
        .await
        .unwrap();
    assert_eq!(a.name, "Cabinet Arnaud");
    assert!(
        a.created_at.ends_with('Z') && a.created_at.len() == 24,
        "{}",
        a.created_at
    );
    assert_eq!(store.customer(a.id).await.unwrap(), Some(a.clone()));
    assert_eq!(store.customer(a.id + 1000).await.unwrap(), None);
    let err = store
        .create_customer(&customer("Autre", Some("contact@arnaud.fr")))
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Conflict(_)), "{err}");
    store
        .create_customer(&customer("Sans e-mail", None))
        .await
        .unwrap();
    store
        .create_customer(&customer("Sans e-mail non plus", None))
        .await
        .unwrap();
    assert_eq!(store.customers(10).await.unwrap().len(), 3);
    // Text is stored as given: accents, quotes, SQL-looking input.
    let odd = store
        .create_customer(&customer("L'Équipe'); DROP TABLE tickets; --", None))
        .await
        .unwrap();
    assert_eq!(
        store.customer(odd.id).await.unwrap().unwrap().name,
        "L'Équipe'); DROP TABLE tickets; --"
    );
}

async fn tickets_history_and_idempotency(store: Arc<dyn Store>) {
    let c = store
        .create_customer(&customer("Pharmacie du Centre", None))
        .await
        .unwrap();
    let (t, created) = store
        .create_ticket(&ticket(c.id, "88 toner cyan"), "api")
        .await
        .unwrap();
    assert!(created);
    assert_eq!(
        (t.status, t.priority, t.channel),
        (Status::New, Priority::Medium, Channel::Email)
    );
    assert_eq!(t.closed_at, None);

    // Unknown references are named.
    let err = store
        .create_ticket(&ticket(c.id + 999, "x"), "api")
        .await
        .unwrap_err();
    assert!(
        matches!(&err, Error::NotFound { what, .. } if what == "customer_id"),
        "{err}"
    );
    let mut with_device = ticket(c.id, "x");
    with_device.device_id = Some(4242);
    let err = store.create_ticket(&with_device, "api").await.unwrap_err();
    assert!(
        matches!(&err, Error::NotFound { what, .. } if what == "device_id"),
        "{err}"
    );

    // A retried submission returns the same ticket and writes nothing more.
    let mut keyed = ticket(c.id, "bourrage 201");
    keyed.idempotency = Some(key("req-123", 'a'));
    let (first, created) = store.create_ticket(&keyed, "api").await.unwrap();
    assert!(created);
    let (again, created) = store.create_ticket(&keyed, "api").await.unwrap();
    assert!(!created);
    assert_eq!(again.id, first.id);
    assert_eq!(store.history(first.id).await.unwrap().len(), 1);

    // Status changes are recorded with who made them.
    let escalated = store
        .set_status(
            t.id,
            Status::Escalated,
            Some("low_confidence"),
            "pipeline",
            Some("best entry 0.41"),
        )
        .await
        .unwrap();
    assert_eq!(
        escalated.escalation_reason.as_deref(),
        Some("low_confidence")
    );
    let closed = store
        .set_status(t.id, Status::Closed, None, "agent:marie", None)
        .await
        .unwrap();
    assert_eq!(closed.status, Status::Closed);
    assert_eq!(
        closed.escalation_reason.as_deref(),
        Some("low_confidence"),
        "kept"
    );
    assert!(closed.closed_at.is_some());
    let history = store.history(t.id).await.unwrap();
    let steps: Vec<_> = history
        .iter()
        .map(|h| (h.from_status, h.to_status, h.actor.as_str()))
        .collect();
    assert_eq!(
        steps,
        vec![
            (None, Status::New, "api"),
            (Some(Status::New), Status::Escalated, "pipeline"),
            (Some(Status::Escalated), Status::Closed, "agent:marie"),
        ]
    );
    let err = store
        .set_status(999_999, Status::Open, None, "x", None)
        .await
        .unwrap_err();
    assert!(matches!(err, Error::NotFound { .. }));

    // Filters and limit.
    let all = store
        .tickets(&TicketFilter {
            limit: 500,
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(all.len(), 2);
    let new = store
        .tickets(&TicketFilter {
            status: Some(Status::New),
            limit: 10,
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(new.iter().map(|t| t.id).collect::<Vec<_>>(), vec![first.id]);
    let one = store
        .tickets(&TicketFilter {
            limit: 1,
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(one.len(), 1);
    let none = store
        .tickets(&TicketFilter {
            priority: Some(Priority::Critical),
            limit: 10,
            ..Default::default()
        })
        .await
        .unwrap();
    assert!(none.is_empty());
}

async fn pipeline_records_round_trip(store: Arc<dyn Store>) {
    use devicekb::store::{ExtractionRecord, RagRecord, ResponseRecord, StepRecord};
    use serde_json::json;
    let c = store
        .create_customer(&customer("Mairie", None))
        .await
        .unwrap();
    let (t, _) = store
        .create_ticket(&ticket(c.id, "88"), "api")
        .await
        .unwrap();
    store
        .add_extraction(
            t.id,
            &ExtractionRecord {
                source: "devicekb".into(),
                message_id: None,
                model: Some("Lexmark C750".into()),
                manufacturer: Some("Lexmark".into()),
                error_codes: json!(["88"]),
                serial: None,
                entities: json!([{"kind": "model", "value": "C750", "start": 3, "end": 7}]),
            },
        )
        .await
        .unwrap();
    store
        .add_rag_result(
            t.id,
            &RagRecord {
                query: "la C750 affiche 88".into(),
                mode: "hybrid".into(),
                generation: "gen-000001".into(),
                results: json!([{"kb_id": "a", "relevance": 0.75}]),
            },
        )
        .await
        .unwrap();
    store
        .add_response(
            t.id,
            &ResponseRecord {
                responder: ResponderKind::Auto,
                author: Some("extractive".into()),
                body: "Bonjour,\n1. Faire ceci.".into(),
                citations: json!(["a"]),
                confidence: Some(0.75),
                send_status: SendStatus::Pending,
                llm_model: None,
                prompt_tokens: Some(321),
                completion_tokens: None,
                latency_ms: None,
            },
        )
        .await
        .unwrap();
    for (step, status) in [
        ("ingestion", StepStatus::Ok),
        ("retrieval", StepStatus::Failed),
    ] {
        store
            .add_step(
                t.id,
                &StepRecord {
                    step: step.into(),
                    status,
                    duration_ms: 1.5,
                    error: None,
                },
            )
            .await
            .unwrap();
    }
    let bad = StepRecord {
        step: "teleportation".into(),
        status: StepStatus::Ok,
        duration_ms: 1.0,
        error: None,
    };
    assert!(
        store.add_step(t.id, &bad).await.is_err(),
        "the schema refuses an unknown step"
    );
    let rows = store.pipeline(t.id).await.unwrap();
    assert_eq!(rows.extractions[0].record.error_codes, json!(["88"]));
    assert_eq!(rows.extractions[0].record.entities[0]["value"], "C750");
    assert_eq!(
        rows.rag_result.as_ref().unwrap().record.results[0]["relevance"],
        0.75
    );
    assert_eq!(rows.responses[0].record.body, "Bonjour,\n1. Faire ceci.");
    assert_eq!(rows.responses[0].record.prompt_tokens, Some(321));
    assert_eq!(
        rows.steps
            .iter()
            .map(|s| s.record.step.as_str())
            .collect::<Vec<_>>(),
        vec!["ingestion", "retrieval"]
    );
    assert!(store.pipeline(t.id + 1000).await.unwrap().steps.is_empty());
}

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

async fn devices_round_trip(store: Arc<dyn Store>) {
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

async fn conversation_round_trip(store: Arc<dyn Store>) {
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

async fn figures_round_trip(store: Arc<dyn Store>) {
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

macro_rules! both {
    ($name:ident) => {
        mod $name {
            #[tokio::test]
            async fn sqlite() {
                let db = super::TestDb::sqlite().await;
                assert_eq!(db.store.backend(), "sqlite");
                super::$name(db.store.clone()).await;
                db.drop_db().await;
            }

            #[tokio::test]
            async fn mysql() {
                let db = super::TestDb::mysql().await;
                assert_eq!(db.store.backend(), "mysql");
                super::$name(db.store.clone()).await;
                db.drop_db().await;
            }
        }
    };
}

both!(customers_round_trip);
both!(tickets_history_and_idempotency);
both!(pipeline_records_round_trip);
both!(devices_round_trip);
both!(conversation_round_trip);
both!(figures_round_trip);

#[test]
fn enumerations_list_their_values() {
    let err = Status::parse("done").unwrap_err();
    assert!(
        err.to_string()
            .contains("new, open, in_progress, auto_resolved, escalated, answered, closed"),
        "{err}"
    );
    assert!(matches!(
        Priority::parse("urgent"),
        Err(Error::Unprocessable { .. })
    ));
}

#[tokio::test]
async fn an_unreachable_database_is_unavailable_not_internal() {
    let err = store::connect("mysql://root@127.0.0.1:1/nothing")
        .await
        .err()
        .expect("no server there");
    assert!(matches!(err, Error::StorageUnavailable(_)), "{err}");
    let err = store::connect("postgres://x").await.err().unwrap();
    assert!(matches!(err, Error::Config(_)), "{err}");
}
