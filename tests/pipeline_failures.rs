//! When something under the pipeline fails: the database is gone, a step errors, a
//! server dies mid-pipeline. The ticket is escalated or resumed and nothing is lost.

use crate::common;

use common::http::{app, call, new_customer};
use serde_json::{json, Value};
#[tokio::test]
async fn an_unreachable_database_is_a_503_and_searches_go_on() {
    // The stored API keys cannot be read either: only the operator's key can be checked.
    const KEY: &str = "operator-key";
    let service = common::repo_index_with(|c| {
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

#[tokio::test]
async fn a_failing_step_escalates_the_ticket_and_loses_nothing() {
    use reqwest::Method;
    let kb = common::small_kb(|id| id.starts_with("lexmark-c750-msg-"));
    let data = tempfile::tempdir().unwrap();
    // Build the index with the real model, then serve with one that fails on some texts.
    drop(common::start_service(kb.path(), data.path()).await);
    let config = common::config(kb.path(), data.path());
    let service = devicekb::service::Service::start(config, RefusingEmbedder::failing_on("kaputt"))
        .await
        .unwrap();
    common::warm(&service).await;
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
                priority_given: false,
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
    if retried["classification_pending"] == false {
        // Its client chose no priority: the resumed pipeline predicts one.
        let predicted = details["predictions"]
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["task"] == "priority")
            .map(|p| p["label"].clone());
        assert_ne!(predicted, Some(json!("medium")), "{details}");
        assert_eq!(Some(details["ticket"]["priority"].clone()), predicted);
        assert_eq!(details["ticket"]["priority_given"], false);
    }

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

/// The real model, except that queries are refused: with an embedding error, those
/// containing `failing_on` or all while `failing`; as a full queue would, the next
/// `overloaded` ones.
struct RefusingEmbedder {
    inner: std::sync::Arc<dyn devicekb::embed::Embedder>,
    failing_on: Option<&'static str>,
    failing: std::sync::atomic::AtomicBool,
    overloaded: std::sync::atomic::AtomicUsize,
    queries: std::sync::atomic::AtomicUsize,
}

impl RefusingEmbedder {
    fn new() -> std::sync::Arc<RefusingEmbedder> {
        Self::refusing(None)
    }

    fn failing_on(word: &'static str) -> std::sync::Arc<RefusingEmbedder> {
        Self::refusing(Some(word))
    }

    fn refusing(failing_on: Option<&'static str>) -> std::sync::Arc<RefusingEmbedder> {
        std::sync::Arc::new(RefusingEmbedder {
            inner: common::embedder(),
            failing_on,
            failing: Default::default(),
            overloaded: Default::default(),
            queries: Default::default(),
        })
    }
}

impl devicekb::embed::Embedder for RefusingEmbedder {
    fn name(&self) -> &str {
        self.inner.name()
    }
    fn dim(&self) -> usize {
        self.inner.dim()
    }
    fn embed_queries(&self, texts: &[&str]) -> devicekb::Result<Vec<Vec<f32>>> {
        use std::sync::atomic::Ordering;
        self.queries.fetch_add(1, Ordering::SeqCst);
        let refused = self
            .failing_on
            .is_some_and(|word| texts.iter().any(|t| t.contains(word)));
        if refused || self.failing.load(Ordering::SeqCst) {
            return Err(devicekb::Error::Embedding("the model crashed".into()));
        }
        let left = self.overloaded.load(Ordering::SeqCst);
        if left > 0
            && self
                .overloaded
                .compare_exchange(left, left - 1, Ordering::SeqCst, Ordering::SeqCst)
                .is_ok()
        {
            return Err(devicekb::Error::Overloaded("the queue is full".into()));
        }
        self.inner.embed_queries(texts)
    }
    fn embed_passages(&self, texts: &[&str]) -> devicekb::Result<Vec<Vec<f32>>> {
        self.inner.embed_passages(texts)
    }
    fn query_parallelism(&self) -> usize {
        self.inner.query_parallelism()
    }
    fn glossary_min_cosine(&self) -> f32 {
        self.inner.glossary_min_cosine()
    }
}

/// A service over a small KB whose queries go through `embedder`. Its first sweep asks
/// for the classifier too (a training of its own, or the failure remembered).
async fn service_refusing(
    kb: &std::path::Path,
    data: &std::path::Path,
    embedder: std::sync::Arc<RefusingEmbedder>,
) -> std::sync::Arc<devicekb::service::Service> {
    let config = common::config(kb, data);
    common::build_index(&config).await;
    devicekb::service::Service::start(config, embedder)
        .await
        .unwrap()
}

/// A training that fails is remembered: the callers after it (every ticket arriving asks
/// for the classifier) get its error at once instead of each training again, until its
/// back-off ends; a new generation trains at once.
#[tokio::test]
async fn a_failed_training_is_not_retried_by_every_caller() {
    use std::sync::atomic::Ordering;
    let kb = common::small_kb(|id| id.starts_with("lexmark-c750-msg-"));
    let data = tempfile::tempdir().unwrap();
    let embedder = RefusingEmbedder::new();
    embedder.failing.store(true, Ordering::SeqCst);
    let service = service_refusing(kb.path(), data.path(), embedder.clone()).await;

    let first = service.engine.classifier().await.map(drop).unwrap_err();
    assert!(first.to_string().contains("crashed"), "{first}");
    // The failed training's queries still queued may yet run (their tasks are aborted,
    // not their place in the embedding queue): counted once they stop.
    let mut tried = embedder.queries.load(Ordering::SeqCst);
    loop {
        tokio::time::sleep(std::time::Duration::from_millis(300)).await;
        let now = embedder.queries.load(Ordering::SeqCst);
        if now == tried {
            break;
        }
        tried = now;
    }
    assert!(tried > 0);
    // The model works again, but the next training waits for the back-off.
    embedder.failing.store(false, Ordering::SeqCst);
    for _ in 0..3 {
        let again = service.engine.classifier().await.map(drop).unwrap_err();
        assert!(
            matches!(again, devicekb::Error::NotReady(_))
                && again.to_string().contains("tried again in"),
            "{again}"
        );
    }
    assert_eq!(
        embedder.queries.load(Ordering::SeqCst),
        tried,
        "no training ran"
    );

    // A reindex serves a new generation, which trains at once.
    service
        .engine
        .reindex(std::sync::Arc::new(|_| {}))
        .await
        .unwrap();
    let trained = service.engine.classifier().await.unwrap();
    assert!(
        trained.is_some(),
        "the product's labelled set trains a classifier"
    );
}

/// Training waits for room in a full embedding queue (live queries fill it in a burst)
/// instead of failing.
#[tokio::test]
async fn training_waits_for_room_in_a_full_embedding_queue() {
    use std::sync::atomic::Ordering;
    let kb = common::small_kb(|id| id.starts_with("lexmark-c750-msg-"));
    let data = tempfile::tempdir().unwrap();
    let embedder = RefusingEmbedder::new();
    embedder.overloaded.store(40, Ordering::SeqCst);
    let service = service_refusing(kb.path(), data.path(), embedder.clone()).await;
    let trained = service.engine.classifier().await.unwrap();
    assert!(trained.is_some());
    assert_eq!(
        embedder.overloaded.load(Ordering::SeqCst),
        0,
        "refused 40 times"
    );
}
