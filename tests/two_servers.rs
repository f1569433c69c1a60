//! Two servers, one store: two `devicekb serve` processes on one MariaDB database and one
//! data directory (and one Qdrant when `QDRANT_URL` is set), both started at once on an
//! empty directory, serve the same generation; each ticket's pipeline runs once whichever
//! server takes it, and one `Idempotency-Key` sent to both at once makes one ticket; a
//! reindex run through one is live on the other within a few seconds, at the default
//! polling period; a reindex asked while another process holds the directory's lock is
//! refused with that process named.

use crate::common;

use std::path::Path;
use std::time::{Duration, Instant};

use common::db::TestDb;
use common::http::{call, new_customer};
use common::process::{devicekb, serve, Child};
use reqwest::Method;
use serde_json::{json, Value};

fn keep(id: &str) -> bool {
    id.starts_with("lexmark-c750-msg-88") || id.starts_with("lexmark-c750-jam-2")
}

/// `devicekb serve` on `kb`, `data` and the database at `database_url`, with the default
/// generation polling period (the one the README promises).
fn server(
    kb: &Path,
    data: &Path,
    database_url: &str,
    qdrant: Option<&(String, String)>,
) -> (Child, String) {
    let mut command = devicekb(&["serve", "--addr", "127.0.0.1:0"], kb, data);
    command
        .env("DATABASE_URL", database_url)
        .env_remove("DEVICEKB_WATCH_INTERVAL_MS");
    if let Some((url, alias)) = qdrant {
        command
            .env("QDRANT_URL", url)
            .env("QDRANT_COLLECTION", alias);
    }
    let (child, base, _log) = serve(command);
    (child, base)
}

async fn get(url: String) -> Value {
    let (status, body) = call(Method::GET, url, None, None).await;
    assert_eq!(status, 200, "{body}");
    body
}

async fn generation(base: &str) -> String {
    get(format!("{base}/health")).await["generation"]
        .as_str()
        .expect("the generation served")
        .to_string()
}

/// Each pipeline step of ticket `id` as recorded, read through `base`.
async fn steps(base: &str, id: i64) -> Vec<String> {
    get(format!("{base}/tickets/{id}")).await["steps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["step"].as_str().unwrap().to_string())
        .collect()
}

async fn file_ticket(base: String, customer: i64, n: usize, key: Option<String>) -> (u16, Value) {
    let body = json!({
        "customer_id": customer,
        "subject": format!("C750 n°{n}"),
        "description": format!("Bonjour, ticket {n} : la C750 affiche 88 Toner cyan bas."),
        "channel": "email",
    });
    common::http::call(
        Method::POST,
        format!("{base}/tickets"),
        Some(body),
        key.as_deref(),
    )
    .await
}

async fn two_servers_on(qdrant: Option<(String, String)>) {
    let db = TestDb::mysql().await;
    let kb = common::small_kb(keep);
    let data = tempfile::tempdir().unwrap();

    // Both start at once on an empty directory: one builds the first generation, the
    // other waits for it instead of failing or building a second one.
    let (a, b) = {
        let (kb_a, data_a, url_a, q_a) = (
            kb.path().to_owned(),
            data.path().to_owned(),
            db.url.clone(),
            qdrant.clone(),
        );
        let (kb_b, data_b, url_b, q_b) = (
            kb.path().to_owned(),
            data.path().to_owned(),
            db.url.clone(),
            qdrant.clone(),
        );
        let a = tokio::task::spawn_blocking(move || server(&kb_a, &data_a, &url_a, q_a.as_ref()));
        let b = tokio::task::spawn_blocking(move || server(&kb_b, &data_b, &url_b, q_b.as_ref()));
        (a.await.unwrap(), b.await.unwrap())
    };
    let ((a_child, a), (b_child, b)) = (a, b);
    let first = generation(&a).await;
    assert_eq!(generation(&b).await, first);
    let built: Vec<_> = std::fs::read_dir(data.path().join("generations"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(
        built,
        std::slice::from_ref(&first),
        "one first generation, built once"
    );

    // Tickets through either server: each pipeline runs once, and both see every ticket.
    let customer = new_customer(&a).await;
    let filed = futures_join((0..8).map(|n| {
        let base = if n % 2 == 0 { a.clone() } else { b.clone() };
        file_ticket(base, customer, n, None)
    }))
    .await;
    let mut ids = Vec::new();
    for (status, created) in &filed {
        assert_eq!(*status, 201, "{created}");
        assert!(created["decision"].is_string(), "{created}");
        ids.push(created["ticket_id"].as_i64().unwrap());
    }
    // One key sent to both servers at the same moment: one ticket, never two.
    for round in 0..5 {
        let key = format!("two-servers-{round}-{}", std::process::id());
        let both = futures_join(
            [a.clone(), b.clone()]
                .into_iter()
                .map(|base| file_ticket(base, customer, 100 + round, Some(key.clone()))),
        )
        .await;
        let created: Vec<i64> = both
            .iter()
            .filter(|(status, _)| *status == 201 || *status == 200)
            .map(|(_, body)| body["ticket_id"].as_i64().unwrap())
            .collect();
        assert!(!created.is_empty(), "{both:?}");
        assert!(
            created.iter().all(|id| *id == created[0]),
            "two tickets for one key: {both:?}"
        );
        for (status, body) in &both {
            assert!(matches!(status, 200 | 201 | 409), "{status} {body}");
        }
        ids.push(created[0]);
    }
    for id in &ids {
        let (on_a, on_b) = (steps(&a, *id).await, steps(&b, *id).await);
        assert_eq!(on_a, on_b);
        let mut unique = on_a.clone();
        unique.sort();
        unique.dedup();
        assert_eq!(
            unique.len(),
            on_a.len(),
            "a step ran twice on ticket {id}: {on_a:?}"
        );
        assert!(on_a.contains(&"decision".to_string()), "{on_a:?}");
    }
    let listed = get(format!("{b}/tickets?limit=500")).await;
    assert_eq!(
        listed["count"].as_u64().unwrap() as usize,
        ids.len(),
        "{listed}"
    );

    // A reindex through A is served by B within a few seconds (B polls `CURRENT` every
    // second by default), and B finds the new entry.
    std::fs::write(
        kb.path().join("entries/test/deux-serveurs-calibrage.toml"),
        r#"id = "deux-serveurs-calibrage"
title = "Calibrage zorglubien du tambour"
lang = "fr"
category = "general"
description = "Procédure de calibrage zorglubien du tambour après remplacement."
source = "test"
models = ["Lexmark C750"]
steps = ["Ouvrir le menu Qualité", "Lancer le calibrage zorglubien"]
"#,
    )
    .unwrap();
    let (status, report) = call(
        Method::POST,
        format!("{a}/admin/reindex?wait=true"),
        None,
        None,
    )
    .await;
    assert_eq!(status, 200, "{report}");
    let second = report["generation"].as_str().unwrap().to_string();
    assert_ne!(second, first);
    let switched = Instant::now();
    while generation(&b).await != second {
        assert!(
            switched.elapsed() < Duration::from_secs(5),
            "B still serves {first} 5 s after the reindex"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let (status, found) = call(
        Method::POST,
        format!("{b}/knowledge/search"),
        Some(json!({"query": "calibrage zorglubien"})),
        None,
    )
    .await;
    assert_eq!(status, 200, "{found}");
    assert_eq!(
        found["results"][0]["kb_id"], "deux-serveurs-calibrage",
        "{found}"
    );

    // Whoever holds the directory's reindex lock (here this test process, as another
    // server's reindex would) is named in the refusal, and nothing is started.
    let held = devicekb::index::recovery::try_lock_reindex(data.path())
        .unwrap()
        .expect("no reindex is running");
    let (status, refused) = call(Method::POST, format!("{b}/admin/reindex"), None, None).await;
    assert_eq!(status, 409, "{refused}");
    let detail = refused["detail"].as_str().unwrap();
    assert!(
        detail.contains(&format!("process {} on ", std::process::id())),
        "{detail}"
    );
    assert_eq!(get(format!("{b}/admin/tasks")).await["tasks"], json!([]));
    drop(held);
    let (status, task) = call(
        Method::POST,
        format!("{b}/admin/reindex?wait=true"),
        None,
        None,
    )
    .await;
    assert_eq!(status, 200, "{task}");

    drop((a_child, b_child));
    db.drop_db().await;
}

/// Runs the futures concurrently, results in their order.
async fn futures_join<F: std::future::Future + Send + 'static>(
    futures: impl IntoIterator<Item = F>,
) -> Vec<F::Output>
where
    F::Output: Send + 'static,
{
    let handles: Vec<_> = futures.into_iter().map(tokio::spawn).collect();
    let mut out = Vec::new();
    for handle in handles {
        out.push(handle.await.unwrap());
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_servers_on_one_database_and_one_data_directory() {
    two_servers_on(None).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_servers_on_one_database_one_data_directory_and_one_qdrant() {
    let Ok(url) = std::env::var("QDRANT_URL") else {
        eprintln!("NOT RUN: two_servers_on_one_database_one_data_directory_and_one_qdrant needs QDRANT_URL");
        return;
    };
    two_servers_on(Some((
        url,
        format!("devicekb_two_servers_{}", std::process::id()),
    )))
    .await;
}
