//! Answers: extractive replies with real content, the decision and its reasons, and the
//! LLM client against a local chat-completions server started here, for every way an LLM
//! fails. The real model and the repository's KB.

use crate::common;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use devicekb::answer::pii::KnownCustomer;
use devicekb::answer::{Answer, Decision, Reason, Responder};
use devicekb::llm::LlmConfig;
use devicekb::service::{AnswerRequest, Service};
use parking_lot::Mutex;
use serde_json::{json, Value};

async fn answer(service: &Arc<Service>, text: &str) -> Answer {
    service
        .engine
        .answer(AnswerRequest {
            text: text.to_string(),
            model: None,
        })
        .await
        .expect("answer")
}

fn steps_of(service: &Service, id: &str) -> Vec<String> {
    let generation = service.engine.generation();
    let entry = generation.entry(generation.ord_of(id).expect("cited entry exists"));
    match devicekb::answer::reply::entry_fix(entry) {
        devicekb::answer::reply::Fix::Steps(steps) => steps.iter().map(|s| s.to_string()).collect(),
        other => panic!("{id} has steps in the bundled KB: {other:?}"),
    }
}

#[tokio::test]
async fn covered_message_gets_the_cited_entrys_steps() {
    let service = common::repo_service();
    let a = answer(
        &service,
        "Bonjour, notre C750 affiche 88 Toner cyan bas depuis ce matin. Merci, Marc",
    )
    .await;
    assert_eq!(a.decision, Decision::Auto, "{:?}", a.notes);
    assert_eq!(a.responder, Some(Responder::Extractive));
    assert_eq!(a.citations[0].kb_id, "lexmark-c750-msg-88-toner-bas");
    let reply = a.reply.as_deref().expect("a reply");
    assert!(reply.starts_with("Bonjour"));
    assert!(
        reply.contains("Lexmark C750") && reply.contains("88"),
        "{reply}"
    );
    for (i, step) in steps_of(&service, "lexmark-c750-msg-88-toner-bas")
        .iter()
        .enumerate()
    {
        assert!(
            reply.contains(&format!("{}. {step}", i + 1)),
            "step {i} missing:\n{reply}"
        );
    }
    assert!(reply.contains("[lexmark-c750-msg-88-toner-bas]"));
    let retrieved: Vec<&str> = a.retrieved.iter().map(|r| r.kb_id.as_str()).collect();
    assert!(a
        .citations
        .iter()
        .all(|c| retrieved.contains(&c.kb_id.as_str())));

    let en = answer(
        &service,
        "Hi, the Lexmark C750 in room 3 shows 88 cyan toner low. Thanks",
    )
    .await;
    // Sent or left as a draft for the agent, the reply is in the customer's language.
    let written = en
        .reply
        .as_deref()
        .or(en.draft.as_deref())
        .unwrap_or_default();
    assert!(written.starts_with("Hello"), "{en:?}");
}

#[tokio::test]
async fn escalations_say_why() {
    let service = common::repo_service();
    let cases = [
        ("Je veux parler à un humain, la C750 affiche 88.", Reason::HumanRequested),
        ("Bonjour, nous avons été facturés deux fois pour le kit de maintenance, merci de nous rembourser.", Reason::SensitiveCategory),
        ("C'est la troisième fois que la C750 affiche 88, c'est inadmissible, on va résilier le contrat !!", Reason::ChurnRisk),
        ("Outlook ne synchronise plus mon calendrier avec mon téléphone depuis la mise à jour.", Reason::OutOfScope),
    ];
    for (text, reason) in cases {
        let a = answer(&service, text).await;
        assert_eq!(a.decision, Decision::Escalate, "{text}: {:?}", a.notes);
        assert!(a.reply.is_none(), "{text}: nothing is sent on escalation");
        // Low confidence and out of scope are both "the KB does not cover it".
        let ok = a.reason == Some(reason)
            || (reason == Reason::OutOfScope && a.reason == Some(Reason::LowConfidence));
        assert!(ok, "{text}: {:?} {:?}", a.reason, a.notes);
    }
}

/// A message in a language replies are not written in still gets the search (the agent
/// sees the entries found) but goes to a person, saying why.
#[tokio::test]
async fn a_message_in_another_language_goes_to_a_person_with_what_was_found() {
    let service = common::repo_service();
    let a = answer(
        &service,
        "Guten Tag, unser Lexmark C750 zeigt seit heute Morgen die Meldung 88 Toner niedrig an. Was sollen wir tun?",
    )
    .await;
    assert_eq!(a.decision, Decision::Escalate, "{:?}", a.notes);
    assert_eq!(a.reason, Some(Reason::UnsupportedLanguage), "{:?}", a.notes);
    assert!(a.reply.is_none());
    assert!(
        a.notes.iter().any(|n| n.contains("German")),
        "{:?}",
        a.notes
    );
    assert!(
        !a.retrieved.is_empty(),
        "the search still runs for the agent"
    );
}

/// A server started with another fusion than the reindex's reads its calibration on
/// features it was not fitted on: it says so and answers nothing automatically.
#[tokio::test]
async fn a_calibration_fitted_under_another_fusion_supports_no_automatic_answer() {
    let message = "Bonjour, notre C750 affiche 88 Toner cyan bas depuis ce matin. Merci, Marc";
    let fitted = answer(&common::repo_service(), message).await;
    assert_eq!(fitted.decision, Decision::Auto, "{:?}", fitted.notes);
    let service = common::repo_index_with(|c| {
        c.fusion.method = devicekb::index::fusion::FusionMethod::Rrf;
    })
    .await;
    let a = answer(&service, message).await;
    assert_eq!(a.decision, Decision::Escalate, "{:?}", a.notes);
    assert_eq!(a.reason, Some(Reason::LowConfidence));
    let health = service.engine.health().await;
    assert_eq!(health.calibration.threshold, None);
    // A fixed threshold is compared with the same meaningless relevance: no better.
    let fixed = common::repo_index_with(|c| {
        c.fusion.method = devicekb::index::fusion::FusionMethod::Rrf;
        c.answer_threshold = Some(0.1);
    })
    .await;
    assert_eq!(answer(&fixed, message).await.decision, Decision::Escalate);
    assert!(
        health
            .calibration
            .notes
            .iter()
            .any(|n| n.contains("fitted under zscore fusion but served under rrf")),
        "{:?}",
        health.calibration.notes
    );
}

#[tokio::test]
async fn small_talk_is_answered_by_pattern_and_counted() {
    let service = common::repo_service();
    let before = service.engine.smart.snapshot();
    let a = answer(&service, "Merci beaucoup, bonne journée !").await;
    assert_eq!(a.decision, Decision::Auto);
    assert_eq!(a.responder, Some(Responder::Smart));
    assert_eq!(a.smart_reply.as_deref(), Some("thanks"));
    assert!(a.retrieved.is_empty(), "no retrieval for small talk");
    let faq = answer(
        &service,
        "Bonjour, où se trouve le numéro de série sur l'imprimante ?",
    )
    .await;
    assert_eq!(faq.smart_reply.as_deref(), Some("serial_location"));
    let after = service.engine.smart.snapshot();
    assert!(after["thanks"].as_u64() > before["thanks"].as_u64());
    assert!(after["faq"].as_u64() > before["faq"].as_u64());
}

// ---------------------------------------------------------------- the LLM client

#[derive(Default)]
struct Mock {
    calls: AtomicUsize,
    last_request: Mutex<Option<Value>>,
}

fn completion(content: &str, finish: &str) -> Value {
    json!({
        "id": "x", "object": "chat.completion", "model": "mock",
        "choices": [{"index": 0, "finish_reason": finish, "message": {"role": "assistant", "content": content}}],
        "usage": {"prompt_tokens": 321, "completion_tokens": 54, "total_tokens": 375}
    })
}

fn reply_citing(id: &str, action: &str) -> String {
    json!({
        "resume": "toner cyan bas", "categorie": "consommables", "priorite": "basse",
        "reponse": "Bonjour, commandez une cartouche cyan. (réponse du modèle)",
        "action": action, "citations": [id]
    })
    .to_string()
}

/// The first passage id in the prompt: "[lexmark-c750-msg-88-toner-bas] ...".
fn first_passage(request: &Value) -> String {
    let user = request["messages"][1]["content"]
        .as_str()
        .unwrap_or_default();
    user.split('[')
        .nth(1)
        .and_then(|s| s.split(']').next())
        .unwrap_or_default()
        .to_string()
}

async fn chat(
    Path(scenario): Path<String>,
    State(mock): State<Arc<Mock>>,
    Json(request): Json<Value>,
) -> Response {
    let call = mock.calls.fetch_add(1, Ordering::SeqCst);
    *mock.last_request.lock() = Some(request.clone());
    let cited = first_passage(&request);
    match scenario.as_str() {
        "good" => Json(completion(&reply_citing(&cited, "auto"), "stop")).into_response(),
        "escalade" => Json(completion(&reply_citing(&cited, "escalade"), "stop")).into_response(),
        "broken" => Json(completion("{\"resume\": \"toner", "stop")).into_response(),
        "invented" => Json(completion(
            &reply_citing(&cited, "auto").replace(
                "commandez une cartouche cyan.",
                "réinitialisez votre compte sur https://support-imprimante.example.com/login.",
            ),
            "stop",
        ))
        .into_response(),
        "foreign" => Json(completion(
            &reply_citing("hp-not-retrieved", "auto"),
            "stop",
        ))
        .into_response(),
        "length" => Json(completion("{\"resume\": \"to", "length")).into_response(),
        "ratelimit" if call == 0 => (
            StatusCode::TOO_MANY_REQUESTS,
            [("retry-after", "0")],
            "slow down",
        )
            .into_response(),
        "ratelimit" => Json(completion(&reply_citing(&cited, "auto"), "stop")).into_response(),
        "slow" => {
            tokio::time::sleep(Duration::from_secs(10)).await;
            Json(completion(&reply_citing(&cited, "auto"), "stop")).into_response()
        }
        _ => (StatusCode::INTERNAL_SERVER_ERROR, "down").into_response(),
    }
}

async fn mock_llm() -> (String, Arc<Mock>) {
    let mock = Arc::new(Mock::default());
    let app = Router::new()
        .route("/{scenario}/v1/chat/completions", post(chat))
        .with_state(mock.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    (format!("http://{addr}"), mock)
}

/// A service over the shared index, with the LLM at `base_url`.
async fn service_with_llm(base_url: String, deadline: Duration) -> Arc<Service> {
    let shared = common::repo_service();
    let mut config = shared.engine.config().clone();
    let mut llm = LlmConfig::new(base_url, "mock");
    llm.deadline = deadline;
    llm.max_retries = 2;
    llm.breaker_failures = 2;
    llm.breaker_cooldown = Duration::from_secs(60);
    config.llm = Some(llm);
    Service::start(config, common::embedder())
        .await
        .expect("service starts")
}

const COVERED: &str = "Bonjour, notre C750 affiche 88 Toner cyan bas. Marc Dupont, marc.dupont@exemple.fr, 06 12 34 56 78, N° de série 79K1234";

#[tokio::test]
async fn llm_reply_is_used_when_it_checks_out_and_nothing_personal_leaves() {
    let (base, mock) = mock_llm().await;
    let service = service_with_llm(format!("{base}/good/v1"), Duration::from_secs(5)).await;
    let a = answer(&service, COVERED).await;
    assert_eq!(a.decision, Decision::Auto, "{:?}", a.notes);
    assert_eq!(a.responder, Some(Responder::Llm));
    assert!(a.reply.as_deref().unwrap().contains("(réponse du modèle)"));
    assert_eq!(a.citations[0].kb_id, "lexmark-c750-msg-88-toner-bas");
    let llm = a.llm.expect("llm outcome");
    assert!(llm.used);
    assert_eq!(
        (llm.usage.prompt_tokens, llm.usage.completion_tokens),
        (321, 54)
    );
    let sent = mock.last_request.lock().clone().unwrap().to_string();
    // No customer known: the patterns alone, the inline signature's name included.
    for secret in ["marc.dupont@exemple.fr", "06 12 34 56 78", "Marc Dupont"] {
        assert!(!sent.contains(secret), "{secret} was sent to the LLM");
    }
    for placeholder in ["[EMAIL]", "[PHONE]", "[NAME]"] {
        assert!(sent.contains(placeholder), "{placeholder}: {sent}");
    }
    // What the reply needs stays: the model, the code and the serial.
    let message = customer_message(&mock);
    for finding in ["C750", "88 Toner", "79K1234"] {
        assert!(message.contains(finding), "{finding} missing: {message}");
    }
    assert!(sent.contains("json_object"));
}

/// The customer's message as the last prompt quoted it, between the markers.
fn customer_message(mock: &Mock) -> String {
    let request = mock
        .last_request
        .lock()
        .clone()
        .expect("the LLM was called");
    let user = request["messages"][1]["content"]
        .as_str()
        .unwrap_or_default();
    let start = user.find("<<<MESSAGE").expect("the message is quoted");
    user[start..].to_string()
}

#[tokio::test]
async fn the_prompt_carries_the_customers_words_with_no_personal_detail() {
    let (base, mock) = mock_llm().await;
    let service = service_with_llm(format!("{base}/good/v1"), Duration::from_secs(5)).await;
    let text = "Bonjour,\n\
        Notre C750 affiche 88 Toner cyan bas depuis ce matin, au 12 rue de la Paix, 75002 Paris.\n\
        Le dossier est au nom de dupont ; je suis joignable au 0033 6 12 34 56 78, au +44 20 7946 0958 \
        ou au 06 998 877 66. Mon IBAN FR76 3000 6000 0112 3456 7890 189 et ma carte 4111 1111 1111 1111 \
        sont sur https://intranet.acme.fr/dossiers/marc.\n\
        Cordialement,\nMarc Dupont\nMarc.Dupont@Exemple.fr\n+33 6 99 88 77 66";
    let customer = KnownCustomer {
        name: Some("Marc Dupont".into()),
        email: Some("marc.dupont@exemple.fr".into()),
        phone: Some("+33 6 99 88 77 66".into()),
    };
    let request = AnswerRequest {
        text: text.to_string(),
        model: None,
    };
    let a = service
        .engine
        .answer_for(request, &customer)
        .await
        .expect("answer");
    assert!(a.llm.is_some(), "the LLM was not asked: {:?}", a.notes);
    // No e-mail, phone, IBAN, card, link, address or name is left; the signature is cut,
    // not merely masked; the model and the code are as written.
    assert_eq!(
        customer_message(&mock),
        "<<<MESSAGE\n\
        Notre C750 affiche 88 Toner cyan bas depuis ce matin, au [ADDRESS].\n\
        Le dossier est au nom de [NAME] ; je suis joignable au [PHONE], au [PHONE] ou au [PHONE]. \
        Mon IBAN [IBAN] et ma carte [CARD] sont sur [URL].\n\
        MESSAGE>>>"
    );
}

#[tokio::test]
async fn a_tickets_customer_is_masked_in_the_prompt_however_written() {
    let (base, mock) = mock_llm().await;
    let service = service_with_llm(format!("{base}/good/v1"), Duration::from_secs(5)).await;
    // The store outlives the run: an e-mail of its own each time.
    let stamp = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    let email = format!("m.dupont.{stamp}@exemple.fr");
    let customer = json!({"name": "Marc Dupont", "email": email, "phone": "+33 6 99 88 77 66"});
    let customer = service
        .desk
        .create_customer(serde_json::from_value(customer).unwrap())
        .await
        .expect("customer");
    // Lowercase, and a spacing no phone pattern knows: only the ticket's customer masks them.
    let ticket = json!({
        "customer_id": customer.id,
        "subject": "C750",
        "description": "Notre C750 affiche 88 Toner cyan bas. Le compte est au nom de dupont, \
            joignable au 06 998 877 66.",
    });
    service
        .desk
        .create_ticket(serde_json::from_value(ticket).unwrap(), None, "test")
        .await
        .expect("ticket");
    assert_eq!(
        customer_message(&mock),
        "<<<MESSAGE\nC750\n\
        Notre C750 affiche 88 Toner cyan bas. Le compte est au nom de [NAME], joignable au [PHONE].\n\
        MESSAGE>>>"
    );
}

#[tokio::test]
async fn every_bad_llm_reply_falls_back_to_the_extractive_reply() {
    let (base, _mock) = mock_llm().await;
    for (scenario, kind) in [
        ("broken", "invalid_json"),
        ("foreign", "foreign_citation"),
        ("invented", "ungrounded_detail"),
        ("length", "truncated"),
        ("down", "http_status"),
    ] {
        let service =
            service_with_llm(format!("{base}/{scenario}/v1"), Duration::from_secs(5)).await;
        let a = answer(&service, COVERED).await;
        assert_eq!(a.decision, Decision::Auto, "{scenario}: {:?}", a.notes);
        assert_eq!(a.responder, Some(Responder::Extractive), "{scenario}");
        let reply = a.reply.as_deref().unwrap();
        for step in steps_of(&service, &a.citations[0].kb_id) {
            assert!(
                reply.contains(&step),
                "{scenario}: extractive steps missing"
            );
        }
        let llm = a.llm.expect("llm outcome recorded");
        assert!(!llm.used);
        assert_eq!(llm.error_kind, Some(kind), "{scenario}: {:?}", llm.error);
    }
}

#[tokio::test]
async fn rate_limits_are_retried_and_a_slow_llm_never_stalls() {
    let (base, mock) = mock_llm().await;
    let service = service_with_llm(format!("{base}/ratelimit/v1"), Duration::from_secs(5)).await;
    let a = answer(&service, COVERED).await;
    assert_eq!(a.responder, Some(Responder::Llm), "{:?}", a.llm);
    assert_eq!(a.llm.unwrap().usage.attempts, 2);
    assert_eq!(mock.calls.load(Ordering::SeqCst), 2);

    let service = service_with_llm(format!("{base}/slow/v1"), Duration::from_millis(800)).await;
    let started = Instant::now();
    let a = answer(&service, COVERED).await;
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "took {:?}",
        started.elapsed()
    );
    assert_eq!(a.responder, Some(Responder::Extractive));
    assert_eq!(a.llm.unwrap().error_kind, Some("timeout"));
}

#[tokio::test]
async fn a_dead_llm_opens_the_circuit_and_an_escalade_escalates() {
    let (base, mock) = mock_llm().await;
    let service = service_with_llm(format!("{base}/down/v1"), Duration::from_secs(5)).await;
    for _ in 0..2 {
        answer(&service, COVERED).await;
    }
    let calls = mock.calls.load(Ordering::SeqCst);
    let a = answer(&service, COVERED).await;
    assert_eq!(a.llm.unwrap().error_kind, Some("circuit_open"));
    assert_eq!(
        mock.calls.load(Ordering::SeqCst),
        calls,
        "an open circuit makes no call"
    );
    assert_eq!(a.responder, Some(Responder::Extractive));

    let service = service_with_llm(format!("{base}/escalade/v1"), Duration::from_secs(5)).await;
    let a = answer(&service, COVERED).await;
    assert_eq!(a.decision, Decision::Escalate);
    assert_eq!(a.reason, Some(Reason::LowConfidence));
    assert!(a.draft.is_some() && a.reply.is_none());
}

/// A real OpenAI-compatible server: llama.cpp's server with SmolLM2-135M, which `make test`
/// installs and this test starts (or another server: `LLM_TEST_URL`, `LLM_TEST_MODEL`,
/// `LLM_TEST_KEY`, `LLM_TEST_FORMAT=json_schema`). Protocol only: whatever the model says,
/// the answer is a checked LLM reply or a recorded fallback.
#[tokio::test]
async fn real_llm_server() {
    let local;
    let (url, send_schema) = match std::env::var("LLM_TEST_URL") {
        Ok(url) => (
            url,
            std::env::var("LLM_TEST_FORMAT").as_deref() == Ok("json_schema"),
        ),
        Err(_) => {
            local = tokio::task::spawn_blocking(common::llm_server::LlmServer::start)
                .await
                .unwrap();
            (local.base_url.clone(), true)
        }
    };
    let shared = common::repo_service();
    let mut config = shared.engine.config().clone();
    let mut llm = LlmConfig::new(
        url,
        std::env::var("LLM_TEST_MODEL").unwrap_or_else(|_| "default".into()),
    );
    llm.api_key = std::env::var("LLM_TEST_KEY").ok();
    llm.send_schema = send_schema;
    llm.deadline = Duration::from_secs(60);
    config.llm = Some(llm);
    let service = Service::start(config, common::embedder()).await.unwrap();
    let a = answer(&service, COVERED).await;
    let llm = a.llm.expect("the LLM was called");
    assert!(llm.usage.attempts >= 1);
    assert!(llm.used || llm.error_kind.is_some(), "{llm:?}");
    if send_schema {
        // The server took the request and its schema-constrained JSON parsed as the reply
        // schema: whatever went wrong after that is the model's content, not the protocol.
        assert!(
            !matches!(
                llm.error_kind,
                Some(
                    "timeout"
                        | "unreachable"
                        | "http_status"
                        | "circuit_open"
                        | "truncated"
                        | "invalid_json"
                        | "schema_mismatch"
                )
            ),
            "{llm:?}"
        );
        assert!(
            llm.usage.prompt_tokens > 0 && llm.usage.completion_tokens > 0,
            "{llm:?}"
        );
    }
    if llm.used {
        let retrieved: Vec<&str> = a.retrieved.iter().map(|r| r.kb_id.as_str()).collect();
        assert!(a
            .citations
            .iter()
            .all(|c| retrieved.contains(&c.kb_id.as_str())));
    }
    eprintln!(
        "real LLM: used={} error={:?} latency={} ms",
        llm.used, llm.error_kind, llm.usage.latency_ms
    );
}

/// The decision on the labelled set at the default thresholds: automatic answers are right
/// at least 95 % of the time, and most covered messages are answered.
#[tokio::test]
async fn labelled_set_precision_and_coverage_at_the_defaults() {
    use devicekb::answer::eval::{load, outcome, point};
    let service = common::repo_service();
    let messages = load(&common::repo().join("tests/data/answer_messages.jsonl")).unwrap();
    assert!(messages.len() >= 150);
    assert!(messages.iter().filter(|m| !m.covered).count() * 3 >= messages.len());
    let mut outcomes = Vec::new();
    for m in &messages {
        let a = answer(&service, &m.text).await;
        outcomes.push(outcome(m, &a));
    }
    // Decisions already applied the configured threshold: sweep nothing.
    let at_default = point(&outcomes, 0.0);
    let wrong: Vec<_> = outcomes
        .iter()
        .filter(|o| o.auto_before_threshold && !o.right)
        .map(|o| (&o.id, &o.cited))
        .collect();
    assert!(
        at_default.precision >= 0.95,
        "precision {:.3}; wrong: {wrong:?}",
        at_default.precision
    );
    assert!(
        at_default.covered_recall >= 0.75,
        "covered recall {:.3}",
        at_default.covered_recall
    );
}
