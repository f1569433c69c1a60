//! Crash safety of the index: a damaged current generation gives way to the previous one
//! (and `/health` says so), unfinished builds are removed at start unless a reindex owns
//! them, and a reindex killed with SIGKILL leaves a restarted server answering from the
//! last good generation.

use crate::common;

use common::process::{devicekb, poll, serve, Child};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::OnceLock;
use std::time::Duration;

use devicekb::index::generation::{generations_dir, CURRENT_FILE, MANIFEST_FILE, TANTIVY_DIR};
use devicekb::index::vector::VECTORS_FILE;
use devicekb::service::{build_generation, Service};
use serde_json::{json, Value};

const GEN1: &str = "gen-000001";
const GEN2: &str = "gen-000002";

fn keep(id: &str) -> bool {
    id.starts_with("lexmark-c750-jam-2")
        || id.starts_with("brother-")
        || id == "lexmark-c750-msg-88-toner-bas"
}

/// A small KB indexed twice (gen-000001, then gen-000002 current), built once per test
/// binary; each test works on a copy of the data directory.
fn template() -> &'static (tempfile::TempDir, tempfile::TempDir) {
    static TEMPLATE: OnceLock<(tempfile::TempDir, tempfile::TempDir)> = OnceLock::new();
    TEMPLATE.get_or_init(|| {
        std::thread::spawn(|| {
            let kb = common::small_kb(keep);
            let data = tempfile::tempdir().unwrap();
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            let config = common::config(kb.path(), data.path());
            for _ in 0..2 {
                build_generation(
                    &config,
                    common::embedder().as_ref(),
                    None,
                    runtime.handle(),
                    &|_| {},
                )
                .expect("the KB indexes");
            }
            assert_eq!(current(data.path()), GEN2);
            (kb, data)
        })
        .join()
        .expect("the template index builds")
    })
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for item in std::fs::read_dir(from).unwrap().flatten() {
        let target = to.join(item.file_name());
        if item.file_type().unwrap().is_dir() {
            copy_dir(&item.path(), &target);
        } else {
            std::fs::copy(item.path(), target).unwrap();
        }
    }
}

/// A fresh copy of the template's data directory, and the template's KB.
fn data_copy() -> (tempfile::TempDir, PathBuf) {
    let (kb, data) = template();
    let copy = tempfile::tempdir().unwrap();
    copy_dir(data.path(), copy.path());
    (copy, kb.path().to_path_buf())
}

fn current(data: &Path) -> String {
    std::fs::read_to_string(data.join(CURRENT_FILE))
        .unwrap()
        .trim()
        .to_string()
}

/// The ways a power loss or a careless hand leaves a generation.
#[derive(Debug, Clone, Copy)]
enum Damage {
    NoManifest,
    /// Every file of the BM25 index empty, as unsynced files come back after a power loss.
    EmptyTantivy,
    /// The BM25 index's segments empty under an intact `meta.json`.
    EmptySegments,
    TruncatedVectors,
    /// `CURRENT` names a directory that is not there.
    Missing,
}

fn damage(data: &Path, name: &str, how: Damage) {
    let dir = generations_dir(data).join(name);
    match how {
        Damage::NoManifest => std::fs::remove_file(dir.join(MANIFEST_FILE)).unwrap(),
        Damage::EmptyTantivy | Damage::EmptySegments => {
            for item in std::fs::read_dir(dir.join(TANTIVY_DIR)).unwrap().flatten() {
                let json = item.path().extension().is_some_and(|e| e == "json");
                if matches!(how, Damage::EmptyTantivy) || !json {
                    std::fs::File::create(item.path()).unwrap();
                }
            }
        }
        Damage::TruncatedVectors => {
            let path = dir.join(VECTORS_FILE);
            let len = std::fs::metadata(&path).unwrap().len();
            let file = std::fs::OpenOptions::new().write(true).open(&path).unwrap();
            file.set_len(len / 2).unwrap();
        }
        Damage::Missing => std::fs::remove_dir_all(&dir).unwrap(),
    }
}

async fn start(kb: &Path, data: &Path) -> devicekb::error::Result<std::sync::Arc<Service>> {
    Service::start(common::config(kb, data), common::embedder()).await
}

async fn get_health(base: &str) -> (u16, Value) {
    let response = reqwest::get(format!("{base}/health")).await.unwrap();
    (response.status().as_u16(), response.json().await.unwrap())
}

async fn search(base: &str, query: &str) -> (u16, Value) {
    let response = reqwest::Client::new()
        .post(format!("{base}/knowledge/search"))
        .json(&json!({"query": query}))
        .send()
        .await
        .unwrap();
    (response.status().as_u16(), response.json().await.unwrap())
}

/// Damages gen-000002 (current) `how`, starts the service the way the server does, and
/// checks it serves gen-000001 and says why over HTTP.
async fn falls_back_on(how: Damage) {
    let (data, kb) = data_copy();
    damage(data.path(), GEN2, how);
    let service = start(&kb, data.path())
        .await
        .unwrap_or_else(|e| panic!("{how:?}: the service does not start: {}", e.chain()));
    assert_eq!(service.engine.generation().name, GEN1, "{how:?}");
    let base = common::spawn_app(service.clone()).await;
    let (status, health) = get_health(&base).await;
    assert_eq!(status, 200, "{how:?}: {health}");
    assert_eq!(health["status"], "degraded", "{how:?}: {health}");
    assert_eq!(health["generation"], GEN1, "{how:?}: {health}");
    let note = health["generation_note"].as_str().unwrap_or_default();
    assert!(
        note.starts_with(&format!("{GEN2} cannot be served ("))
            && note.ends_with("serving gen-000001"),
        "{how:?}: {health}"
    );
    let (status, found) = search(&base, "bourrage papier").await;
    assert_eq!(status, 200, "{how:?}: {found}");
    assert!(found["count"].as_u64().unwrap() > 0, "{how:?}: {found}");
    assert_eq!(found["generation"], GEN1, "{how:?}: {found}");
    // CURRENT is the next reindex's to replace, not the server's.
    assert_eq!(current(data.path()), GEN2);
}

#[tokio::test]
async fn a_generation_without_manifest_gives_way_to_the_previous_one() {
    falls_back_on(Damage::NoManifest).await;
}

#[tokio::test]
async fn a_generation_with_an_empty_bm25_index_gives_way_to_the_previous_one() {
    falls_back_on(Damage::EmptyTantivy).await;
}

#[tokio::test]
async fn a_generation_with_empty_bm25_segments_gives_way_to_the_previous_one() {
    falls_back_on(Damage::EmptySegments).await;
}

#[tokio::test]
async fn a_generation_with_truncated_vectors_gives_way_to_the_previous_one() {
    falls_back_on(Damage::TruncatedVectors).await;
}

#[tokio::test]
async fn current_naming_a_missing_generation_gives_way_to_the_previous_one() {
    falls_back_on(Damage::Missing).await;
}

#[tokio::test]
async fn the_next_reindex_after_a_fallback_serves_a_new_number_and_clears_the_note() {
    let (data, kb) = data_copy();
    damage(data.path(), GEN2, Damage::Missing);
    let service = start(&kb, data.path()).await.expect("service starts");
    assert!(service.engine.generation_note().is_some());
    // The watcher does not retry (and warn about) the same damaged generation each tick.
    assert!(!service.engine.reload_if_changed().await.unwrap());

    let report = service
        .engine
        .reindex(std::sync::Arc::new(|_| {}))
        .await
        .expect("the reindex succeeds");
    assert!(
        report.reused_chunks > 0 && report.embedded_chunks == 0,
        "vectors come from the generation that opens: {report:?}"
    );
    // gen-000002's number is CURRENT's, never reused even though its directory is gone.
    assert_eq!(report.generation, "gen-000003");
    assert_eq!(current(data.path()), "gen-000003");
    assert_eq!(service.engine.generation().name, "gen-000003");
    assert_eq!(service.engine.generation_note(), None);
    let health = service.engine.health().await;
    assert_eq!((health.status, health.generation_note), ("ok", None));
}

#[tokio::test]
async fn when_no_generation_opens_the_error_names_the_current_one() {
    let (data, kb) = data_copy();
    damage(data.path(), GEN2, Damage::NoManifest);
    damage(data.path(), GEN1, Damage::TruncatedVectors);
    let error = match start(&kb, data.path()).await {
        Ok(_) => panic!("a service started with no generation that opens"),
        Err(e) => e.chain(),
    };
    assert!(
        error.contains(GEN2) && error.contains(MANIFEST_FILE),
        "{error}"
    );
}

#[tokio::test]
async fn a_current_generation_of_another_model_is_refused_not_worked_around() {
    let (data, kb) = data_copy();
    let path = generations_dir(data.path()).join(GEN2).join(MANIFEST_FILE);
    let mut manifest: Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
    manifest["model"] = json!("another-model");
    std::fs::write(&path, serde_json::to_vec(&manifest).unwrap()).unwrap();
    match start(&kb, data.path()).await {
        Ok(s) => panic!(
            "served {} instead of refusing the model",
            s.engine.generation().name
        ),
        Err(e) => {
            assert!(
                matches!(e, devicekb::error::Error::Config(_)),
                "{}",
                e.chain()
            );
            assert!(e.chain().contains("another-model"), "{}", e.chain());
        }
    }
}

#[tokio::test]
async fn a_stale_partial_build_is_removed_at_start_unless_a_reindex_holds_the_lock() {
    let (data, kb) = data_copy();
    let partial = generations_dir(data.path()).join("gen-000003.partial");
    std::fs::create_dir_all(partial.join(TANTIVY_DIR)).unwrap();
    std::fs::write(partial.join(VECTORS_FILE), b"half").unwrap();

    let held = devicekb::index::recovery::try_lock_reindex(data.path())
        .unwrap()
        .expect("the lock is free");
    let service = start(&kb, data.path()).await.expect("service starts");
    assert!(partial.is_dir(), "a running reindex's build was removed");
    assert_eq!(service.engine.generation().name, GEN2);
    drop(service);
    drop(held);

    let service = start(&kb, data.path()).await.expect("service starts");
    assert!(!partial.exists(), "the stale build is still there");
    assert_eq!(service.engine.generation().name, GEN2);
    assert_eq!(service.engine.generation_note(), None);
}

#[test]
fn a_reindex_killed_mid_build_leaves_the_server_on_the_last_good_generation() {
    let (data, _) = data_copy();
    // Enough new entries that the build is still embedding when the test kills it.
    let kb = common::small_kb(keep);
    for i in 0..300 {
        std::fs::write(
            kb.path().join(format!("entries/test/test-crash-{i}.toml")),
            format!(
                r#"id = "test-crash-{i}"
title = "Zorglub numéro {i} bloque le chariot"
lang = "fr"
category = "general"
description = "Le zorglub {i} coince le chariot d'impression pendant la tâche {i}."
steps = ["Éteindre l'imprimante", "Retirer le zorglub {i}"]
source = "test"
"#
            ),
        )
        .unwrap();
    }
    let partial = generations_dir(data.path()).join("gen-000003.partial");

    let mut reindex = Child(
        devicekb(&["reindex"], kb.path(), data.path())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("devicekb reindex starts"),
    );
    poll(
        Duration::from_secs(120),
        "the reindex's partial build",
        || {
            if let Some(status) = reindex.0.try_wait().unwrap() {
                panic!("the reindex ended ({status}) before it could be killed mid-build");
            }
            partial.is_dir().then_some(())
        },
    );
    reindex.0.kill().unwrap();
    let status = reindex.0.wait().unwrap();
    {
        use std::os::unix::process::ExitStatusExt;
        assert_eq!(status.signal(), Some(9), "killed, not finished: {status}");
    }
    assert!(partial.is_dir());
    assert_eq!(current(data.path()), GEN2);

    let (_serve, base, log) = serve(devicekb(
        &["serve", "--addr", "127.0.0.1:0"],
        kb.path(),
        data.path(),
    ));
    assert!(
        !partial.exists(),
        "the killed build is still there:\n{}",
        log.join("\n")
    );

    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let (status, health) = get_health(&base).await;
        assert_eq!(status, 200, "{health}");
        assert_eq!(health["status"], "ok", "{health}");
        assert_eq!(health["generation"], GEN2, "{health}");
        assert!(health.get("generation_note").is_none(), "{health}");
        let (status, found) = search(&base, "bourrage papier").await;
        assert_eq!(status, 200, "{found}");
        assert!(found["count"].as_u64().unwrap() > 0, "{found}");
        assert_eq!(found["generation"], GEN2, "{found}");
        // The killed build's entries are not served.
        let (status, found) = search(&base, "zorglub chariot").await;
        assert_eq!(status, 200, "{found}");
        assert!(
            found["results"]
                .as_array()
                .unwrap()
                .iter()
                .all(|r| !r["kb_id"].as_str().unwrap().starts_with("test-crash-")),
            "{found}"
        );
    });
}

#[tokio::test]
async fn a_running_server_keeps_its_generation_when_current_moves_to_a_damaged_one() {
    let (data, kb) = data_copy();
    let service = start(&kb, data.path()).await.expect("service starts");
    assert_eq!(service.engine.generation().name, GEN2);
    let gens = generations_dir(data.path());
    copy_dir(&gens.join(GEN2), &gens.join("gen-000003"));
    damage(data.path(), "gen-000003", Damage::TruncatedVectors);
    std::fs::write(data.path().join(CURRENT_FILE), "gen-000003\n").unwrap();

    // Err here, or Ok(false) when the generation watcher got there first.
    let _ = service.engine.reload_if_changed().await;
    assert_eq!(service.engine.generation().name, GEN2);
    let note = service.engine.generation_note().unwrap_or_default();
    assert!(
        note.starts_with("gen-000003 cannot be served (") && note.ends_with("serving gen-000002"),
        "{note}"
    );
    // Reported once: the watcher's next ticks leave it be.
    assert!(!service.engine.reload_if_changed().await.unwrap());
    assert_eq!(service.engine.health().await.status, "degraded");
}
