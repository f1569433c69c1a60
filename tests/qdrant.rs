//! The Qdrant vector store gives the same results as the embedded one. Needs a Qdrant
//! server: runs when QDRANT_URL is set (e.g. http://127.0.0.1:6334), and says it did not
//! run otherwise (`make test` prints that note too).

use crate::common;

use devicekb::index::reindex::KEEP_GENERATIONS;
use devicekb::qdrant::QdrantConfig;
use devicekb::service::search::ValidSearch;
use devicekb::service::SearchMode;

#[tokio::test]
async fn qdrant_and_embedded_vector_stores_agree() {
    let Ok(url) = std::env::var("QDRANT_URL") else {
        eprintln!("NOT RUN: qdrant_and_embedded_vector_stores_agree needs QDRANT_URL");
        return;
    };
    let kb =
        common::small_kb(|id| id.starts_with("brother-") || id.starts_with("lexmark-c750-jam-"));
    let embedded_data = tempfile::tempdir().unwrap();
    let qdrant_data = tempfile::tempdir().unwrap();
    let embedded = common::start_service(kb.path(), embedded_data.path()).await;
    let alias = format!("devicekb_test_{}", std::process::id());
    let qdrant_config = QdrantConfig {
        url,
        api_key: std::env::var("QDRANT_API_KEY").ok(),
        alias: alias.clone(),
    };
    let qdrant = common::start_service_with(kb.path(), qdrant_data.path(), |c| {
        c.qdrant = Some(qdrant_config.clone())
    })
    .await;
    assert_eq!(qdrant.engine.generation().vectors.backend(), "qdrant");
    for (query, model) in [
        ("le toner est presque vide", None),
        ("paper stuck at the back of the printer", None),
        ("bourrage dans le tiroir", Some("Lexmark C750")),
        ("wifi", Some("Brother HL-L2350DW")),
    ] {
        for mode in [SearchMode::Vector, SearchMode::Hybrid] {
            let q = ValidSearch {
                query: query.into(),
                model_filter: model.map(str::to_string),
                limit: 5,
                mode,
            };
            let ids = move |s: &devicekb::service::Service| -> Vec<String> {
                s.engine
                    .search_blocking(&q)
                    .unwrap()
                    .results
                    .into_iter()
                    .map(|r| r.kb_id)
                    .collect()
            };
            let (a, b) = {
                let (e, d) = (embedded.clone(), qdrant.clone());
                tokio::task::spawn_blocking(move || (ids(&e), ids(&d)))
                    .await
                    .unwrap()
            };
            assert!(!a.is_empty());
            assert_eq!(a, b, "{query} ({mode:?})");
        }
    }

    // Reindexing moves the alias to each new collection and drops the collections of the
    // generations removed from disk.
    for _ in 0..KEEP_GENERATIONS {
        qdrant
            .engine
            .reindex(std::sync::Arc::new(|_| {}))
            .await
            .expect("reindex with qdrant");
    }
    let client = devicekb::qdrant::connect(&qdrant_config).unwrap();
    let mut names: Vec<String> = client
        .list_collections()
        .await
        .unwrap()
        .collections
        .into_iter()
        .map(|c| c.name)
        .filter(|n| n.starts_with(&format!("{alias}_gen_")))
        .collect();
    names.sort();
    assert_eq!(names.len(), KEEP_GENERATIONS, "{names:?}");
    let current = qdrant
        .engine
        .generation()
        .manifest
        .qdrant_collection
        .clone()
        .unwrap();
    assert_eq!(names.last(), Some(&current));
    // Clean up what this run created.
    for name in names {
        let _ = client.delete_collection(name).await;
    }
    let _ = client.delete_alias(alias.as_str()).await;
}
