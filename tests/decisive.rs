//! A search on which BM25 alone is decisive (the message names a model and an error code
//! that BM25's first hit carries and its second does not) skips the query embedding,
//! reports the precision the generation measured for such searches, and finds the same
//! entries as before on the bundled KB's labelled queries.

use crate::common;

use devicekb::service::eval::load_queries;
use devicekb::service::{SearchMode, SearchRequest, SearchResponse, Service};
use serde_json::{json, Value};
use std::sync::Arc;

async fn search(service: &Arc<Service>, query: &str, mode: Option<SearchMode>) -> SearchResponse {
    service
        .engine
        .search(SearchRequest {
            query: query.to_string(),
            mode,
            ..SearchRequest::default()
        })
        .await
        .expect("search")
}

/// An entry naming a model and an error code no other entry carries.
fn own_code_entry(generation: &devicekb::index::Generation) -> &devicekb::kb::KbEntry {
    generation
        .entries
        .iter()
        .find(|e| {
            !e.models.is_empty()
                && e.error_codes.len() == 1
                && e.error_codes[0].chars().any(|c| c.is_ascii_digit())
                && generation
                    .entries
                    .iter()
                    .filter(|o| o.error_codes.contains(&e.error_codes[0]))
                    .count()
                    == 1
        })
        .expect("an entry with a code of its own")
}

#[tokio::test]
async fn decisive_searches_skip_the_vector_and_stay_right() {
    let service = common::repo_service();
    let measured = service
        .engine
        .generation()
        .calibration
        .decisive
        .expect("the bundled KB measures BM25's decisive precision");
    assert!(measured.queries >= 20, "{measured:?}");
    assert!(
        measured.precision > 0.8 && measured.precision < 1.0,
        "{measured:?}"
    );

    let queries =
        load_queries(&common::repo().join("kb/eval/queries.jsonl")).expect("labelled set");
    let mut skipped = 0;
    for q in &queries {
        let response = search(&service, &q.query, None).await;
        if !response.vector_skipped {
            continue;
        }
        skipped += 1;
        let first = &response.results[0];
        assert!(
            q.relevant.contains(&first.kb_id),
            "{}: {:?} first {}",
            q.id,
            q.query,
            first.kb_id
        );
        assert!(
            (first.relevance - measured.precision).abs() < 1e-3,
            "{} vs {measured:?}",
            first.relevance
        );
        assert!(response.results[1..].iter().all(|r| r.relevance
            <= 1.0 - measured.precision + 1e-4
            && r.retrieval.cosine.is_none()));
        // With its vector cached (a vector search embeds it), the same answer.
        search(&service, &q.query, Some(SearchMode::Vector)).await;
        let again = search(&service, &q.query, None).await;
        assert!(again.vector_skipped);
        let ranked = |r: &SearchResponse| {
            r.results
                .iter()
                .map(|h| (h.kb_id.clone(), h.relevance))
                .collect::<Vec<_>>()
        };
        assert_eq!(ranked(&response), ranked(&again));
    }
    assert!(skipped >= 3, "only {skipped} decisive labelled queries");
}

#[tokio::test]
async fn a_code_without_a_model_or_a_shared_code_needs_the_vector() {
    let service = common::repo_service();
    let generation = service.engine.generation();
    let entry = own_code_entry(&generation);
    let code = &entry.error_codes[0];
    let model = &entry.models[0];

    let decisive = search(&service, &format!("{model} affiche l'erreur {code}"), None).await;
    assert!(decisive.vector_skipped, "{decisive:?}");
    assert_eq!(decisive.results[0].kb_id, entry.id);

    // No model named: the code alone does not decide.
    let no_model = search(
        &service,
        &format!("mon imprimante affiche l'erreur {code}"),
        None,
    )
    .await;
    assert!(!no_model.vector_skipped);
    // No code named.
    let no_code = search(
        &service,
        &format!("{model} imprime des pages blanches"),
        None,
    )
    .await;
    assert!(!no_code.vector_skipped);
    // A code two entries carry for the same model: BM25's second carries it too.
    let (shared_model, shared_code) = generation
        .entries
        .iter()
        .flat_map(|e| {
            e.models
                .iter()
                .flat_map(move |m| e.error_codes.iter().map(move |c| (e, m, c)))
        })
        .find(|(e, m, c)| {
            c.chars().all(|ch| ch.is_ascii_digit())
                && generation
                    .entries
                    .iter()
                    .any(|o| o.id != e.id && o.models.contains(m) && o.error_codes.contains(c))
        })
        .map(|(_, m, c)| (m.clone(), c.clone()))
        .expect("two entries sharing a code for one model");
    let shared = search(
        &service,
        &format!("{shared_model} affiche le message {shared_code}"),
        None,
    )
    .await;
    assert!(!shared.vector_skipped, "{shared_model} {shared_code}");
    // A list longer than the candidates the rule was measured on: embedded.
    let long = service
        .engine
        .search(SearchRequest {
            query: format!("{model} affiche l'erreur {code}"),
            limit: Some(100),
            ..SearchRequest::default()
        })
        .await
        .expect("search");
    assert!(!long.vector_skipped);
    assert_eq!(long.results[0].kb_id, entry.id);
    // BM25 asked for: nothing is skipped, it is simply BM25.
    let bm25 = search(
        &service,
        &format!("{model} affiche l'erreur {code}"),
        Some(SearchMode::Bm25),
    )
    .await;
    assert!(!bm25.vector_skipped);
}

#[tokio::test]
async fn http_search_and_health_say_so() {
    let service = common::repo_service();
    let generation = service.engine.generation();
    let entry = own_code_entry(&generation);
    let base = common::spawn_app(service.clone()).await;
    let client = reqwest::Client::new();
    let body: Value = client
        .post(format!("{base}/knowledge/search"))
        .json(&json!({"query": format!("{} code {}", entry.models[0], entry.error_codes[0])}))
        .send()
        .await
        .expect("search")
        .json()
        .await
        .expect("json");
    assert_eq!(body["vector_skipped"], json!(true), "{body}");
    assert_eq!(body["results"][0]["kb_id"], json!(entry.id), "{body}");
    let health: Value = client
        .get(format!("{base}/health"))
        .send()
        .await
        .expect("health")
        .json()
        .await
        .expect("json");
    let decisive = &health["calibration"]["decisive"];
    assert!(decisive["queries"].as_u64().unwrap_or(0) >= 20, "{health}");
    assert!(decisive["precision"].as_f64().is_some(), "{health}");
}
