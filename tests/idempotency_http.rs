//! `Idempotency-Key` over HTTP, the app on each database (SQLite and the MariaDB / MySQL
//! server of tests/common/db.rs): a retry of the same request, however its JSON is laid
//! out, answers what the first one did; the key with another request is a 409 naming it,
//! and nothing is written; keys differing only in case are two keys.

use crate::common;

use common::db::TestDb;
use common::http::{call, new_customer, post_text};
use reqwest::Method;
use serde_json::Value;

/// The app over a few KB entries, storing in `db`.
async fn app_on(db: &TestDb) -> (String, tempfile::TempDir, tempfile::TempDir) {
    let kb = common::small_kb(|id| {
        id.starts_with("lexmark-c750-msg-88") || id.starts_with("lexmark-c750-msg-62")
    });
    let data = tempfile::tempdir().unwrap();
    let url = db.url.clone();
    let service =
        common::start_service_with(kb.path(), data.path(), |c| c.database_url = url).await;
    common::warm(&service).await;
    (common::spawn_app(service).await, kb, data)
}

async fn ticket_count(base: &str) -> u64 {
    let (status, list) = call(Method::GET, format!("{base}/tickets"), None, None).await;
    assert_eq!(status, 200, "{list}");
    list["count"].as_u64().unwrap()
}

fn assert_refused(status: u16, e: &Value, key: &str) {
    assert_eq!(status, 409, "{e}");
    assert_eq!(e["error"], "idempotency_key_reused", "{e}");
    assert_eq!(e["field"], "Idempotency-Key", "{e}");
    assert_eq!(
        e["detail"],
        format!("idempotency key \"{key}\" was already used for a different request")
    );
}

/// Inbound messages of a ticket with this body.
async fn inbound_with(base: &str, ticket: &Value, body: &str) -> usize {
    let (_, details) = call(Method::GET, format!("{base}/tickets/{ticket}"), None, None).await;
    details["messages"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|m| m["direction"] == "inbound" && m["body"] == body)
        .count()
}

async fn tickets_and_messages_over_http(db: &TestDb) {
    let (base, _kb, _data) = app_on(db).await;
    let customer = new_customer(&base).await;
    let url = format!("{base}/tickets");

    let first = format!(
        r#"{{"customer_id": {customer}, "subject": "bourrage", "description": "La C750 affiche 201 Bourrage papier."}}"#
    );
    // The same request, keys in another order, other whitespace.
    let same = format!(
        "{{\n\t\"description\":\"La C750 affiche 201 Bourrage papier.\" ,\"subject\"  :  \"bourrage\",\n  \"customer_id\":{customer}\n}}"
    );
    let other = format!(
        r#"{{"customer_id": {customer}, "subject": "bourrage", "description": "La C750 affiche 202 Bourrage papier."}}"#
    );
    let (status, created) = post_text(url.clone(), &first, Some("Mail-4711")).await;
    assert_eq!(status, 201, "{created}");
    let ticket = created["ticket_id"].clone();
    let (status, again) = post_text(url.clone(), &same, Some("Mail-4711")).await;
    assert_eq!(status, 200, "{again}");
    assert_eq!(
        (&again["ticket_id"], &again["created"]),
        (&ticket, &Value::Bool(false))
    );
    let (status, e) = post_text(url.clone(), &other, Some("Mail-4711")).await;
    assert_refused(status, &e, "Mail-4711");
    assert_eq!(ticket_count(&base).await, 1, "nothing written");
    let (status, lower) = post_text(url.clone(), &first, Some("mail-4711")).await;
    assert_eq!(status, 201, "another key: {lower}");
    assert_ne!(lower["ticket_id"], ticket);
    assert_eq!(ticket_count(&base).await, 2);

    // A message on that ticket.
    let url = format!("{base}/messages");
    let sms = |text: &str| {
        format!(
            r#"{{"ticket_id": {ticket}, "channel": "sms", "direction": "inbound", "body": "{text}"}}"#
        )
    };
    let sms_reordered = format!(
        "{{ \"body\":\"toujours 201\",\n\"direction\":\"inbound\", \"channel\":\"sms\", \"ticket_id\" : {ticket} }}"
    );
    let (status, m) = post_text(url.clone(), &sms("toujours 201"), Some("Sms-1")).await;
    assert_eq!(status, 201, "{m}");
    let (status, again) = post_text(url.clone(), &sms_reordered, Some("Sms-1")).await;
    assert_eq!(status, 200, "{again}");
    assert_eq!(
        (&again["message_id"], &again["created"]),
        (&m["message_id"], &Value::Bool(false))
    );
    let (status, e) = post_text(url.clone(), &sms("toujours 202"), Some("Sms-1")).await;
    assert_refused(status, &e, "Sms-1");
    assert_eq!(inbound_with(&base, &ticket, "toujours 201").await, 1);
    assert_eq!(
        inbound_with(&base, &ticket, "toujours 202").await,
        0,
        "nothing written"
    );
    let (status, lower) = post_text(url.clone(), &sms("toujours 201"), Some("sms-1")).await;
    assert_eq!(status, 201, "another key: {lower}");
    assert_eq!(inbound_with(&base, &ticket, "toujours 201").await, 2);

    // A message that opens a ticket: its retry too, and its key is the one named.
    let opening = |text: &str| {
        format!(
            r#"{{"customer_id": {customer}, "channel": "email", "direction": "inbound", "subject": "toner cyan", "body": "{text}"}}"#
        )
    };
    let (status, opened) =
        post_text(url.clone(), &opening("La C750 affiche 88."), Some("Open-1")).await;
    assert_eq!(
        (status, &opened["new_ticket"]),
        (201, &Value::Bool(true)),
        "{opened}"
    );
    let (status, again) =
        post_text(url.clone(), &opening("La C750 affiche 88."), Some("Open-1")).await;
    assert_eq!(status, 200, "{again}");
    assert_eq!(again["ticket_id"], opened["ticket_id"]);
    let (status, e) = post_text(url.clone(), &opening("La C750 affiche 62."), Some("Open-1")).await;
    assert_refused(status, &e, "Open-1");
    assert_eq!(ticket_count(&base).await, 3, "nothing written");
}

/// A first submission of a message opened its ticket and stopped there (the process
/// died); a retry with another request is refused naming the client's key, not the
/// ticket's prefixed one.
async fn a_ticket_opened_by_a_message_keeps_its_request(db: &TestDb) {
    use devicekb::service::conversation::CreateMessage;
    use devicekb::service::tickets::request_hash;
    use devicekb::store::{Channel, IdempotencyKey, NewTicket, Priority};
    let (base, _kb, _data) = app_on(db).await;
    let customer = new_customer(&base).await;
    let first = format!(
        r#"{{"customer_id": {customer}, "channel": "sms", "direction": "inbound", "body": "La C750 affiche 88."}}"#
    );
    let parsed: CreateMessage = serde_json::from_str(&first).unwrap();
    let (stalled, _) = db
        .store
        .create_ticket(
            &NewTicket {
                customer_id: customer,
                device_id: None,
                subject: "La C750 affiche 88.".into(),
                description: "La C750 affiche 88.".into(),
                channel: Channel::Sms,
                priority: Priority::Medium,
                priority_given: false,
                idempotency: Some(IdempotencyKey {
                    key: "message:Sms-9".into(),
                    request_hash: request_hash(&parsed).unwrap(),
                }),
            },
            "api",
        )
        .await
        .unwrap();
    let other = first.replace("88", "62");
    let (status, e) = post_text(format!("{base}/messages"), &other, Some("Sms-9")).await;
    assert_refused(status, &e, "Sms-9");
    let (status, resumed) = post_text(format!("{base}/messages"), &first, Some("Sms-9")).await;
    assert_eq!(status, 200, "{resumed}");
    assert_eq!(resumed["ticket_id"], stalled.id, "{resumed}");
    assert_eq!(ticket_count(&base).await, 1);
}

/// Keys stored before request digests (none recorded) are answered by the key alone, as
/// then, but still only to their customer and ticket.
async fn keys_from_before_digests_stay_with_their_owner(db: &TestDb) {
    let (base, _kb, _data) = app_on(db).await;
    let customer = new_customer(&base).await;
    let other = new_customer(&base).await;
    let ticket = |who: i64, text: &str| {
        format!(r#"{{"customer_id": {who}, "subject": "bourrage", "description": "{text}"}}"#)
    };
    let url = format!("{base}/tickets");
    let (status, first) = post_text(url.clone(), &ticket(customer, "201"), Some("Old-1")).await;
    assert_eq!(status, 201, "{first}");
    let (_, second) = post_text(url.clone(), &ticket(customer, "202"), None).await;
    let (t1, t2) = (&first["ticket_id"], &second["ticket_id"]);
    let sms = |target: &Value| {
        format!(
            r#"{{"ticket_id": {target}, "channel": "sms", "direction": "inbound", "body": "x"}}"#
        )
    };
    let (status, m) = post_text(format!("{base}/messages"), &sms(t1), Some("Old-2")).await;
    assert_eq!(status, 201, "{m}");
    db.execute("UPDATE tickets SET request_hash = NULL").await;
    db.execute("UPDATE messages SET request_hash = NULL").await;

    let (status, again) = post_text(url.clone(), &ticket(customer, "203"), Some("Old-1")).await;
    assert_eq!((status, &again["ticket_id"]), (200, t1), "{again}");
    let (status, e) = post_text(url.clone(), &ticket(other, "201"), Some("Old-1")).await;
    assert_refused(status, &e, "Old-1");
    let (status, again) = post_text(format!("{base}/messages"), &sms(t1), Some("Old-2")).await;
    assert_eq!(
        (status, &again["message_id"]),
        (200, &m["message_id"]),
        "{again}"
    );
    let (status, e) = post_text(format!("{base}/messages"), &sms(t2), Some("Old-2")).await;
    assert_refused(status, &e, "Old-2");
    assert_eq!(ticket_count(&base).await, 2);
}

macro_rules! both {
    ($name:ident) => {
        mod $name {
            #[tokio::test]
            async fn sqlite() {
                let db = super::TestDb::sqlite().await;
                super::$name(&db).await;
                db.drop_db().await;
            }

            #[tokio::test]
            async fn mysql() {
                let db = super::TestDb::mysql().await;
                super::$name(&db).await;
                db.drop_db().await;
            }
        }
    };
}

both!(tickets_and_messages_over_http);
both!(a_ticket_opened_by_a_message_keeps_its_request);
both!(keys_from_before_digests_stay_with_their_owner);
