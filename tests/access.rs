//! Who may call what: every route of the table against every kind of caller, the keys'
//! life (created, pinned, revoked), the public intake's per-address limit, the refusal
//! to serve a network with no key, and a client too slow to send its headers.

use crate::common;

use std::sync::Arc;
use std::time::Duration;

use devicekb::api::{route_table, RouteSpec, Verb};
use devicekb::service::access::keys::{self, NewKeyRequest};
use devicekb::service::access::Rule;
use devicekb::service::Service;
use devicekb::store::{Channel, Role};
use serde_json::{json, Value};

fn keep(id: &str) -> bool {
    id.starts_with("lexmark-c750-jam-2") || id == "lexmark-c750-msg-88-toner-bas"
}

struct Served {
    _kb: tempfile::TempDir,
    _data: tempfile::TempDir,
    service: Arc<Service>,
    base: String,
}

async fn served(tweak: impl FnOnce(&mut devicekb::config::Config)) -> Served {
    let kb = common::small_kb(keep);
    let data = tempfile::tempdir().unwrap();
    let service = common::start_service_with(kb.path(), data.path(), tweak).await;
    common::warm(&service).await;
    let base = common::spawn_app(service.clone()).await;
    Served {
        _kb: kb,
        _data: data,
        service,
        base,
    }
}

async fn mint(service: &Service, name: &str, role: Role) -> String {
    mint_pinned(service, name, role, None, None).await
}

async fn mint_pinned(
    service: &Service,
    name: &str,
    role: Role,
    channel: Option<Channel>,
    customer_id: Option<i64>,
) -> String {
    common::mint_key(service, name, role, channel, customer_id).await
}

async fn send(
    base: &str,
    verb: Verb,
    path: &str,
    key: Option<&str>,
    body: Option<Value>,
) -> reqwest::Response {
    let method = match verb {
        Verb::Get => reqwest::Method::GET,
        Verb::Post => reqwest::Method::POST,
        Verb::Patch => reqwest::Method::PATCH,
    };
    let mut request = reqwest::Client::new().request(method, format!("{base}{path}"));
    if let Some(key) = key {
        request = request.bearer_auth(key);
    }
    if let Some(body) = body {
        request = request.json(&body);
    }
    request.send().await.unwrap()
}

/// A customer created with `key`; its JSON.
async fn new_customer(base: &str, key: &str, name: &str) -> Value {
    let (status, customer) = call(
        base,
        Verb::Post,
        "/customers",
        Some(key),
        Some(json!({ "name": name })),
    )
    .await;
    assert_eq!(status, 201, "{customer}");
    customer
}

/// `send`, then its status and JSON body.
async fn call(
    base: &str,
    verb: Verb,
    path: &str,
    key: Option<&str>,
    body: Option<Value>,
) -> (u16, Value) {
    status_and_body(send(base, verb, path, key, body).await).await
}

async fn status_and_body(response: reqwest::Response) -> (u16, Value) {
    let status = response.status().as_u16();
    let text = response.text().await.unwrap();
    (
        status,
        serde_json::from_str(&text).unwrap_or(Value::String(text)),
    )
}

/// The roles a route lets in, from its rule.
fn allowed(spec: &RouteSpec, role: Role) -> bool {
    match spec.rule {
        Rule::Anyone => true,
        Rule::Intake(_) => role.grants(Role::Intake),
        Rule::Needs(needed) => role.grants(needed),
    }
}

#[tokio::test]
async fn every_route_lets_in_exactly_the_roles_its_rule_names() {
    let served = served(|_| {}).await;
    let intake = mint(&served.service, "web-form", Role::Intake).await;
    let staff = mint(&served.service, "helpdesk", Role::Staff).await;
    let admin = mint(&served.service, "ops", Role::Admin).await;
    let table = route_table();
    assert!(table.len() >= 20, "the table holds every route");
    // The probes and the API's description need nothing; everything else needs some key.
    let open: Vec<_> = table
        .iter()
        .filter(|r| r.rule == Rule::Anyone)
        .map(|r| r.path)
        .collect();
    assert_eq!(
        open,
        [
            "/livez",
            "/readyz",
            "/health",
            "/openapi.json",
            "/docs",
            "/docs/swagger-ui.css",
            "/docs/swagger-ui-bundle.js"
        ]
    );

    for spec in &table {
        let path = spec.path.replace("{id}", "1");
        // An empty JSON body: the gate answers before the handler reads it, and a handler
        // that runs answers 2xx or a 4xx about the body, never 401 / 403.
        let body = (spec.verb != Verb::Get).then(|| json!({}));
        for (who, key) in [
            ("no key", None),
            ("a wrong key", Some("dkb_0000")),
            ("intake", Some(intake.as_str())),
            ("staff", Some(staff.as_str())),
            ("admin", Some(admin.as_str())),
        ] {
            let (status, answer) = call(&served.base, spec.verb, &path, key, body.clone()).await;
            let role = match who {
                "intake" => Some(Role::Intake),
                "staff" => Some(Role::Staff),
                "admin" => Some(Role::Admin),
                _ => None,
            };
            let expected_in = match role {
                Some(role) => allowed(spec, role),
                None => spec.rule == Rule::Anyone,
            };
            let context = format!(
                "{} {} with {who}: {status} {answer}",
                spec.verb.as_str(),
                spec.path
            );
            if expected_in {
                assert!(status != 401 && status != 403, "{context}");
            } else if role.is_some() {
                assert_eq!(status, 403, "{context}");
                assert_eq!(answer["error"], "forbidden", "{context}");
            } else {
                assert_eq!(status, 401, "{context}");
                assert_eq!(answer["error"], "unauthorized", "{context}");
            }
        }
    }
}

#[tokio::test]
async fn with_no_key_a_loopback_server_is_open_and_another_address_is_refused() {
    let served = served(|_| {}).await;
    let (status, _) = call(&served.base, Verb::Get, "/tickets", None, None).await;
    assert_eq!(status, 200, "open on loopback while no key exists");

    let listener = tokio::net::TcpListener::bind("0.0.0.0:0").await.unwrap();
    let refused = devicekb::api::serve(listener, served.service.clone()).await;
    let message = refused
        .expect_err("no key, not loopback: refused")
        .to_string();
    assert!(message.contains("devicekb keys create"), "{message}");

    // A key created while the server runs closes it.
    let staff = mint(&served.service, "helpdesk", Role::Staff).await;
    let (status, body) = call(&served.base, Verb::Get, "/tickets", None, None).await;
    assert_eq!(status, 401, "{body}");
    let response = send(&served.base, Verb::Get, "/tickets", Some(&staff), None).await;
    assert_eq!(response.status().as_u16(), 200);
}

#[tokio::test]
async fn a_revoked_key_stops_working_and_keys_are_stored_hashed() {
    let served = served(|_| {}).await;
    let staff = mint(&served.service, "helpdesk", Role::Staff).await;
    let _admin = mint(&served.service, "ops", Role::Admin).await;
    let store = served.service.desk.store().unwrap();
    let stored = store.keys().await.unwrap();
    assert!(stored
        .iter()
        .all(|k| !k.key_hash.contains(&staff[4..]) && k.key_hash.len() == 64));
    assert!(staff.starts_with(&stored[0].key_prefix));

    let stats = || {
        call(
            &served.base,
            Verb::Get,
            "/stats/tickets",
            Some(&staff),
            None,
        )
    };
    assert_eq!(stats().await.0, 200);
    keys::revoke(store.as_ref(), "helpdesk").await.unwrap();
    served.service.access.refresh(&served.service.desk).await;
    let (status, body) = stats().await;
    assert_eq!(status, 401, "{body}");
    assert!(
        body["detail"].as_str().unwrap().contains("revoked"),
        "{body}"
    );
    // A name in use by an active key is refused; a revoked one's may be reused.
    let again = keys::create(
        store.as_ref(),
        NewKeyRequest {
            name: "ops".into(),
            role: Role::Staff,
            channel: None,
            customer_id: None,
        },
    )
    .await;
    assert!(again.is_err());
    mint(&served.service, "helpdesk", Role::Staff).await;
}

#[tokio::test]
async fn an_intake_key_files_for_its_own_customer_and_channel_only() {
    let served = served(|_| {}).await;
    let admin = mint(&served.service, "ops", Role::Admin).await;
    let mut customers = vec![];
    for name in ["Cabinet Arnaud", "Imprimerie Blanc"] {
        let customer = new_customer(&served.base, &admin, name).await;
        customers.push(customer["id"].as_i64().unwrap());
    }
    let form = mint_pinned(
        &served.service,
        "web-form",
        Role::Intake,
        Some(Channel::Chat),
        Some(customers[0]),
    )
    .await;
    let ticket = |customer: i64, channel: Option<&str>| {
        let mut body = json!({"customer_id": customer, "subject": "Bourrage", "description": "Bourrage papier bac 2 sur ma C750."});
        if let Some(channel) = channel {
            body["channel"] = json!(channel);
        }
        body
    };
    for (body, expected, case) in [
        (ticket(customers[1], None), 403, "another customer"),
        (ticket(customers[0], Some("call")), 403, "another channel"),
        (ticket(customers[0], None), 201, "its own customer"),
    ] {
        let (status, answer) = call(
            &served.base,
            Verb::Post,
            "/tickets",
            Some(&form),
            Some(body),
        )
        .await;
        assert_eq!(status, expected, "{case}: {answer}");
    }
    let (_, listed) = call(&served.base, Verb::Get, "/tickets", Some(&admin), None).await;
    let body = listed["tickets"][0].clone();
    let id = body["ticket_id"]
        .as_i64()
        .or_else(|| body["id"].as_i64())
        .unwrap();
    let (_, stored) = call(
        &served.base,
        Verb::Get,
        &format!("/tickets/{id}"),
        Some(&admin),
        None,
    )
    .await;
    let channel = stored["channel"]
        .as_str()
        .or_else(|| stored["ticket"]["channel"].as_str());
    assert_eq!(channel, Some("chat"), "{stored}");
    assert_eq!(
        stored["history"][0]["actor"], "key:web-form",
        "the history says which key filed it: {stored}"
    );
    // The customer's reading of their own ticket is staff work.
    let (status, _) = call(
        &served.base,
        Verb::Get,
        &format!("/tickets/{id}"),
        Some(&form),
        None,
    )
    .await;
    assert_eq!(status, 403);
    // Intake records what customers send, not replies.
    let (status, body) = call(
        &served.base,
        Verb::Post,
        "/messages",
        Some(&form),
        Some(
            json!({"ticket_id": id, "channel": "chat", "direction": "outbound", "body": "Réglé."}),
        ),
    )
    .await;
    assert_eq!(status, 403, "{body}");
}

#[tokio::test]
async fn the_public_intake_refuses_a_flood_from_one_address_with_retry_after() {
    let served = served(|c| {
        c.public_intake = true;
        c.limits.public_tickets_per_hour = 2;
    })
    .await;
    let admin = mint(&served.service, "ops", Role::Admin).await;
    let customer = new_customer(&served.base, &admin, "Cabinet Arnaud").await;
    let body = json!({"customer_id": customer["id"], "subject": "Bourrage", "description": "Bourrage papier."});
    let keyless = || {
        send(
            &served.base,
            Verb::Post,
            "/tickets",
            None,
            Some(body.clone()),
        )
    };
    for _ in 0..2 {
        assert_eq!(keyless().await.status().as_u16(), 201);
    }
    let refused = keyless().await;
    assert_eq!(refused.status().as_u16(), 429);
    let retry_after: u64 = refused.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=1800).contains(&retry_after), "{retry_after}");
    let (_, answer) = status_and_body(refused).await;
    assert_eq!(answer["error"], "rate_limited");
    // A key is not counted against the address, and reading still needs one.
    let with_key = send(
        &served.base,
        Verb::Post,
        "/tickets",
        Some(&admin),
        Some(body),
    )
    .await;
    assert_eq!(with_key.status().as_u16(), 201);
    let (status, _) = call(&served.base, Verb::Get, "/tickets", None, None).await;
    assert_eq!(status, 401);
}

#[tokio::test]
async fn a_client_that_sends_its_headers_one_byte_at_a_time_is_cut() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let served = served(|c| c.header_read_timeout_ms = 500).await;
    let addr = served.base.trim_start_matches("http://").to_string();
    let mut stream = tokio::net::TcpStream::connect(&addr).await.unwrap();
    let request = b"GET /livez HTTP/1.1\r\nHost: x\r\nX-Slow: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\r\n\r\n";
    let mut cut = false;
    for byte in request.iter() {
        if stream.write_all(&[*byte]).await.is_err() {
            cut = true;
            break;
        }
        let mut buf = [0u8; 256];
        match tokio::time::timeout(Duration::from_millis(100), stream.read(&mut buf)).await {
            Ok(Ok(0)) | Ok(Err(_)) => {
                cut = true;
                break;
            }
            // The server may answer 408 before closing.
            Ok(Ok(n)) => {
                let text = String::from_utf8_lossy(&buf[..n]);
                assert!(
                    !text.contains("200 OK"),
                    "the slow request was served: {text}"
                );
            }
            Err(_) => {}
        }
    }
    assert!(
        cut,
        "a client sending one byte every 100 ms for {} bytes was never cut",
        request.len()
    );
}

#[tokio::test]
async fn probes_answer_without_a_key() {
    let served = served(|_| {}).await;
    mint(&served.service, "ops", Role::Admin).await;
    for path in ["/livez", "/readyz", "/health"] {
        let (status, body) = call(&served.base, Verb::Get, path, None, None).await;
        assert_eq!(status, 200, "{path}: {body}");
    }
}

#[tokio::test]
async fn a_57_kb_message_of_unknown_words_is_answered_like_a_short_one() {
    let served = served(|_| {}).await;
    // Words no KB has, each a fuzzy candidate before the caps: the 57 KB case.
    let words: Vec<String> = (0..4_400).map(|i| format!("zorglub{i:05}")).collect();
    let text = format!("Bonjour, ma C750 fait un bourrage. {}", words.join(" "));
    assert!((57_000..65_536).contains(&text.len()), "{}", text.len());
    for path in ["/answer", "/extract"] {
        let (status, body) = call(
            &served.base,
            Verb::Post,
            path,
            None,
            Some(json!({"text": text})),
        )
        .await;
        assert_eq!(status, 200, "{path}: {body}");
    }
    let admin = mint(&served.service, "ops", Role::Admin).await;
    let customer = new_customer(&served.base, &admin, "Cabinet Arnaud").await;
    let (status, body) = call(
        &served.base,
        Verb::Post,
        "/tickets",
        Some(&admin),
        Some(json!({"customer_id": customer["id"], "subject": "Bourrage", "description": text})),
    )
    .await;
    assert_eq!(status, 201, "{body}");
}
