//! Reindexing: validation first, atomic switch, no failed search in flight, only changed
//! entries re-embedded, and a running server picking up a CLI reindex.

use crate::common;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use serde_json::{json, Value};

const KEY: &str = "test-admin-key";

fn keep(id: &str) -> bool {
    id.starts_with("lexmark-c750-jam-2")
        || id.starts_with("brother-")
        || id == "lexmark-c750-msg-88-toner-bas"
}

async fn reindex(base: &str, key: Option<&str>) -> (u16, Value) {
    let mut request = reqwest::Client::new().post(format!("{base}/admin/reindex?wait=true"));
    if let Some(key) = key {
        request = request.header("authorization", format!("Bearer {key}"));
    }
    let response = request.send().await.unwrap();
    (response.status().as_u16(), response.json().await.unwrap())
}

async fn search(base: &str, query: &str) -> (u16, Value) {
    let response = reqwest::Client::new()
        .post(format!("{base}/knowledge/search"))
        .bearer_auth(KEY)
        .json(&json!({"query": query}))
        .send()
        .await
        .unwrap();
    (response.status().as_u16(), response.json().await.unwrap())
}

fn write_entry(kb: &std::path::Path, id: &str, title: &str) {
    std::fs::write(
        kb.join("entries/test").join(format!("{id}.toml")),
        format!(
            r#"id = "{id}"
title = "{title}"
lang = "fr"
category = "general"
description = "Le bac de sortie déborde de confettis multicolores après chaque impression."
steps = ["Vider le bac", "Retirer les confettis"]
source = "test"
"#
        ),
    )
    .unwrap();
}

/// A small KB, a fresh data dir, a service with the admin key and the app serving it.
async fn served_kb() -> (
    tempfile::TempDir,
    tempfile::TempDir,
    Arc<devicekb::service::Service>,
    String,
) {
    let kb = common::small_kb(keep);
    let data = tempfile::tempdir().unwrap();
    let service = common::start_service_with(kb.path(), data.path(), |c| {
        c.admin_api_key = Some(KEY.into());
        // The searches in flight during a reindex are thousands a minute with one key.
        c.limits.key_requests_per_minute = 1_000_000;
    })
    .await;
    let base = common::spawn_app(service.clone()).await;
    (kb, data, service, base)
}

/// `devicekb reindex --kb KB --data DATA` in another process, with extra environment.
async fn cli_reindex(
    kb: &std::path::Path,
    data: &std::path::Path,
    env: &[(&str, std::path::PathBuf)],
) -> std::process::Output {
    let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_devicekb"));
    command
        .args(["reindex", "--kb"])
        .arg(kb)
        .arg("--data")
        .arg(data);
    for (name, value) in env {
        command.env(name, value);
    }
    tokio::task::spawn_blocking(move || command.output())
        .await
        .unwrap()
        .unwrap()
}

/// A generation built before the int8 products were exact on every processor: its vectors
/// are kept where they were exact already (VNNI) and embedded again where they saturated.
#[tokio::test]
async fn vectors_made_before_exact_int8_products_are_embedded_again_where_they_saturated() {
    let (_kb, data, service, base) = served_kb().await;
    let generation = service.engine.generation().name.clone();
    let manifest_path = devicekb::index::generation::generations_dir(data.path())
        .join(&generation)
        .join(devicekb::index::generation::MANIFEST_FILE);
    let mut manifest: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&manifest_path).unwrap()).unwrap();
    assert_eq!(manifest["exact_int8"], true);
    manifest.as_object_mut().unwrap().remove("exact_int8");
    std::fs::write(&manifest_path, serde_json::to_vec(&manifest).unwrap()).unwrap();

    let (status, report) = reindex(&base, Some(KEY)).await;
    assert_eq!(status, 200, "{report}");
    let chunks = report["chunks"].as_u64().unwrap();
    let embedded = report["embedded_chunks"].as_u64().unwrap();
    if devicekb::embed::int8_products_saturate_here() {
        assert_eq!(embedded, chunks, "{report}");
    } else {
        assert_eq!(embedded, 0, "{report}");
    }
}

#[tokio::test]
async fn admin_reindex_needs_the_key_and_switches_generation() {
    let (kb, _data, service, base) = served_kb().await;
    let before = service.engine.generation().name.clone();

    assert_eq!(reindex(&base, None).await.0, 401);
    assert_eq!(reindex(&base, Some("wrong")).await.0, 401);

    write_entry(
        kb.path(),
        "test-confettis",
        "Confettis dans le bac de sortie",
    );
    let (status, report) = reindex(&base, Some(KEY)).await;
    assert_eq!(status, 200, "{report}");
    assert_eq!(
        report["embedded_chunks"], 1,
        "only the new entry is embedded: {report}"
    );
    assert!(report["reused_chunks"].as_u64().unwrap() > 10);
    assert_ne!(service.engine.generation().name, before);
    let (_, answer) = search(&base, "confettis").await;
    assert_eq!(answer["results"][0]["kb_id"], "test-confettis");
}

async fn admin(base: &str, method: reqwest::Method, path: &str) -> (u16, Value) {
    let response = reqwest::Client::new()
        .request(method, format!("{base}{path}"))
        .bearer_auth(KEY)
        .send()
        .await
        .unwrap();
    (response.status().as_u16(), response.json().await.unwrap())
}

/// Polls `GET /admin/tasks/{id}` until the task is over.
async fn finished_task(base: &str, id: u64) -> Value {
    let deadline = std::time::Instant::now() + Duration::from_secs(600);
    loop {
        let (status, task) = admin(base, reqwest::Method::GET, &format!("/admin/tasks/{id}")).await;
        assert_eq!(status, 200, "{task}");
        assert_eq!(task["id"], id, "{task}");
        if task["status"] != "running" {
            return task;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the reindex never ended: {task}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// `POST /admin/reindex`: the 202, its `Location` and the task's id.
async fn start_task(base: &str) -> (Value, u64) {
    let response = reqwest::Client::new()
        .post(format!("{base}/admin/reindex"))
        .bearer_auth(KEY)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 202);
    let location = response.headers()["location"].to_str().unwrap().to_string();
    let task: Value = response.json().await.unwrap();
    let id = task["id"].as_u64().expect("a task id");
    assert_eq!(location, format!("/admin/tasks/{id}"));
    (task, id)
}

#[tokio::test]
async fn a_reindex_is_a_task_followed_to_its_generation_or_its_errors() {
    let (kb, _data, service, base) = served_kb().await;
    let (status, list) = admin(&base, reqwest::Method::GET, "/admin/tasks").await;
    assert_eq!(
        (status, list["tasks"].as_array().map(Vec::len)),
        (200, Some(0)),
        "{list}"
    );

    write_entry(kb.path(), "confettis", "Confettis dans le bac de sortie");
    let (task, id) = start_task(&base).await;
    assert_eq!(
        (task["kind"].as_str(), task["status"].as_str()),
        (Some("reindex"), Some("running")),
        "{task}"
    );
    assert!(task["started_at"].as_u64().is_some());
    // One at a time: a second request while it runs is a conflict naming the running task.
    let (again, answer) = admin(&base, reqwest::Method::POST, "/admin/reindex").await;
    if again == 409 {
        let detail = answer["detail"].as_str().unwrap();
        assert!(detail.contains(&format!("task {id}")), "{answer}");
    } else {
        // The first had already ended: this one is a task of its own.
        assert_eq!(again, 202, "{answer}");
        assert!(answer["id"].as_u64().unwrap() > id, "{answer}");
        finished_task(&base, answer["id"].as_u64().unwrap()).await;
    }
    let task = finished_task(&base, id).await;
    assert_eq!(task["status"], "succeeded", "{task}");
    assert!(
        task["phase"].is_null()
            && task["seconds"].as_f64().is_some()
            && task["finished_at"].as_u64().is_some(),
        "{task}"
    );
    assert!(task["entries"].as_u64().unwrap() > 1, "{task}");
    let generation = task["generation"].as_str().unwrap().to_string();
    assert_eq!(task["report"]["generation"], generation.as_str());
    assert!(
        task["report"]["embedded_chunks"].as_u64().unwrap() >= 1,
        "{task}"
    );
    assert_eq!(service.engine.generation().name, generation);

    std::fs::write(
        kb.path().join("entries/test/broken.toml"),
        "id = \"broken\"\ntitle = \"\"\nlang = \"fr\"\ncategory = \"nope\"\n",
    )
    .unwrap();
    let (_, failing) = start_task(&base).await;
    let task = finished_task(&base, failing).await;
    assert_eq!(task["status"], "failed", "{task}");
    assert!(task["generation"].is_null(), "{task}");
    assert!(
        task["errors"].as_array().unwrap().iter().any(|e| e["file"]
            .as_str()
            .unwrap()
            .ends_with("broken.toml")
            && e["line"] == 4),
        "{task}"
    );
    assert_eq!(
        service.engine.generation().name,
        generation,
        "the index keeps serving"
    );
    let (_, list) = admin(&base, reqwest::Method::GET, "/admin/tasks").await;
    assert_eq!(list["tasks"][0]["id"], failing, "newest first: {list}");
    assert!(
        list["tasks"]
            .as_array()
            .unwrap()
            .iter()
            .any(|t| t["id"] == id),
        "{list}"
    );

    for (path, status, field) in [
        (format!("/admin/tasks/{}", failing + 1000), 404, None),
        ("/admin/tasks/soon".to_string(), 400, Some("id")),
        ("/admin/reindex?wait=soon".to_string(), 400, Some("wait")),
    ] {
        let method = if path.starts_with("/admin/reindex") {
            reqwest::Method::POST
        } else {
            reqwest::Method::GET
        };
        let (got, answer) = admin(&base, method, &path).await;
        assert_eq!(
            (got, answer["field"].as_str()),
            (status, field),
            "{path}: {answer}"
        );
        assert!(
            answer["error"].is_string() && answer["detail"].is_string(),
            "{answer}"
        );
    }
}

#[tokio::test]
async fn an_invalid_kb_is_refused_and_the_index_keeps_serving() {
    let (kb, _data, service, base) = served_kb().await;
    let before = service.engine.generation().name.clone();

    std::fs::write(
        kb.path().join("entries/test/broken.toml"),
        "id = \"broken\"\ntitle = \"\"\nlang = \"fr\"\ncategory = \"nope\"\n",
    )
    .unwrap();
    std::fs::write(
        kb.path().join("entries/test/bad-syntax.toml"),
        "id = \"bad-syntax\"\ntitle = [unclosed\n",
    )
    .unwrap();
    let (status, answer) = reindex(&base, Some(KEY)).await;
    assert_eq!(status, 422, "{answer}");
    let errors = answer["errors"].as_array().unwrap();
    assert!(
        errors
            .iter()
            .any(|e| e["file"].as_str().unwrap().ends_with("broken.toml")
                && e["field"] == "category"
                && e["line"] == 4),
        "{answer}"
    );
    assert!(
        errors
            .iter()
            .any(|e| e["file"].as_str().unwrap().ends_with("bad-syntax.toml") && e["line"] == 2),
        "{answer}"
    );
    assert_eq!(service.engine.generation().name, before);
    let (status, answer) = search(&base, "bourrage").await;
    assert_eq!(status, 200);
    assert!(answer["count"].as_u64().unwrap() > 0);
}

#[tokio::test]
async fn searches_in_flight_never_fail_during_reindex_and_cli_reindex_is_picked_up() {
    let (kb, data, service, base) = served_kb().await;

    let stop = Arc::new(AtomicUsize::new(0));
    let failures = Arc::new(AtomicUsize::new(0));
    let done = Arc::new(AtomicUsize::new(0));
    let mut workers = Vec::new();
    for i in 0..4 {
        let (base, stop, failures, done) =
            (base.clone(), stop.clone(), failures.clone(), done.clone());
        workers.push(tokio::spawn(async move {
            let queries = [
                "bourrage tiroir",
                "toner bas",
                "paper jam rear",
                "impression pâle",
            ];
            let mut n = 0;
            while stop.load(Ordering::SeqCst) == 0 && n < 2000 {
                let (status, _) = search(&base, queries[(i + n) % queries.len()]).await;
                if status != 200 {
                    failures.fetch_add(1, Ordering::SeqCst);
                }
                done.fetch_add(1, Ordering::SeqCst);
                n += 1;
            }
        }));
    }
    for round in 0..2 {
        write_entry(
            kb.path(),
            &format!("test-round-{round}"),
            &format!("Confettis numéro {round}"),
        );
        let (status, report) = reindex(&base, Some(KEY)).await;
        assert_eq!(status, 200, "{report}");
    }

    // A reindex by another process (the CLI) is noticed by the running server.
    let before = service.engine.generation().name.clone();
    write_entry(
        kb.path(),
        "test-from-cli",
        "Serpentins dans le bac de sortie",
    );
    let output = cli_reindex(kb.path(), data.path(), &[]).await;
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stderr}");
    // Its output is not a terminal: progress comes as lines a log keeps.
    for phase in [
        "KB valid: ",
        "embedding ",
        "glossary: ",
        "indexing",
        "calibrating",
        "switching",
    ] {
        assert!(
            stderr
                .lines()
                .any(|l| l.starts_with("reindex [") && l.contains(phase)),
            "no {phase} line in:\n{stderr}"
        );
    }
    assert!(
        !stderr.contains('\u{1b}'),
        "colour codes in a log: {stderr}"
    );
    let mut switched = false;
    for _ in 0..100 {
        if service.engine.generation().name != before {
            switched = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(switched, "the server did not pick up the CLI's generation");
    let (_, answer) = search(&base, "serpentins").await;
    assert_eq!(answer["results"][0]["kb_id"], "test-from-cli");

    stop.store(1, Ordering::SeqCst);
    for w in workers {
        w.await.unwrap();
    }
    assert!(
        done.load(Ordering::SeqCst) > 20,
        "searches ran during the reindexes"
    );
    assert_eq!(failures.load(Ordering::SeqCst), 0);
}

#[tokio::test]
async fn cli_reindex_of_an_invalid_kb_lists_every_error_and_exits_non_zero() {
    let kb = common::small_kb(keep);
    let data = tempfile::tempdir().unwrap();
    common::start_service(kb.path(), data.path()).await;
    let current = std::fs::read_to_string(data.path().join("CURRENT")).unwrap();
    std::fs::write(kb.path().join("entries/test/one.toml"), "id = \"other-id\"\ntitle = \"t\"\nlang = \"fr\"\ncategory = \"general\"\ndescription = \"d\"\nsource = \"s\"\nmodels = [\"Lexmark C9999\"]\n").unwrap();
    std::fs::write(kb.path().join("entries/test/two.toml"), "id = \"two\"\ntitle = \"t\"\nlang = \"de\"\ncategory = \"general\"\ndescription = \"d\"\nsource = \"s\"\n").unwrap();
    let output = cli_reindex(kb.path(), data.path(), &[]).await;
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("one.toml:1: field `id`"), "{stderr}");
    assert!(stderr.contains("one.toml:7: field `models`"), "{stderr}");
    assert!(stderr.contains("two.toml:3"), "{stderr}");
    assert_eq!(
        std::fs::read_to_string(data.path().join("CURRENT")).unwrap(),
        current
    );
}

#[tokio::test]
async fn a_generation_built_with_another_model_is_not_served() {
    let kb = common::small_kb(keep);
    let data = tempfile::tempdir().unwrap();
    let service = common::start_service(kb.path(), data.path()).await;
    let base = common::spawn_app(service.clone()).await;
    let before = service.engine.generation().name.clone();
    let minilm = devicekb::config::cache_dir().join("models/all-minilm-l6-v2");
    let output = cli_reindex(kb.path(), data.path(), &[("DEVICEKB_MODEL_DIR", minilm)]).await;
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(
        service.engine.generation().name,
        before,
        "the mismatched generation must not be loaded"
    );
    let (status, answer) = search(&base, "bourrage").await;
    assert_eq!(status, 200);
    assert!(answer["count"].as_u64().unwrap() > 0);
}
