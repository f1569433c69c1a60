//! The embedding model as devicekb loads it: same tokens and vectors as the reference
//! implementation, a second model from the same configuration, and clear errors.

use crate::common;

use std::process::Command;

use devicekb::config::Config;
use devicekb::embed::{dot, Embedder, OnnxEmbedder};
use serde_json::Value;

fn model(dir: &str) -> OnnxEmbedder {
    let config = Config::from_vars(|_| None).unwrap();
    OnnxEmbedder::load(
        &devicekb::config::cache_dir().join("models").join(dir),
        &config.ort_dylib,
        2,
    )
    .unwrap_or_else(|e| panic!("the model {dir} is required ({e}); run `make setup`"))
}

fn e5() -> OnnxEmbedder {
    model("multilingual-e5-small")
}

/// Cosine of each fixture text's vector with the reference implementation's.
fn reference_cosines(model: &OnnxEmbedder) -> Vec<f32> {
    let fixture: Value = serde_json::from_str(
        &std::fs::read_to_string(common::repo().join("tests/fixtures/e5_reference.json")).unwrap(),
    )
    .unwrap();
    let items = fixture["items"].as_array().unwrap();
    let texts: Vec<&str> = items.iter().map(|i| i["text"].as_str().unwrap()).collect();
    let vectors = model.embed_raw(&texts).unwrap();
    items
        .iter()
        .zip(&vectors)
        .map(|(item, vector)| {
            let reference: Vec<f32> = item["embedding"]
                .as_array()
                .unwrap()
                .iter()
                .map(|v| v.as_f64().unwrap() as f32)
                .collect();
            dot(vector, &reference) / dot(&reference, &reference).sqrt()
        })
        .collect()
}

#[test]
fn e5_reproduces_the_reference_tokens_and_vectors() {
    let fixture: Value = serde_json::from_str(
        &std::fs::read_to_string(common::repo().join("tests/fixtures/e5_reference.json")).unwrap(),
    )
    .unwrap();
    let model = e5();
    assert_eq!(model.name(), "multilingual-e5-small");
    let items = fixture["items"].as_array().unwrap();
    assert!(items.len() >= 6);
    for item in items {
        let text = item["text"].as_str().unwrap();
        let ids: Vec<u32> = item["token_ids"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_u64().unwrap() as u32)
            .collect();
        assert_eq!(model.token_ids(text).unwrap(), ids, "{text}");
    }
    // The fixture's vectors are normalised, so these cosines also check our normalisation.
    for cosine in reference_cosines(&model) {
        assert!(cosine >= 0.9999, "cosine {cosine}");
    }
    let v = model.embed_raw(&["query: test"]).unwrap();
    assert!(
        (dot(&v[0], &v[0]) - 1.0).abs() < 1e-4,
        "vectors are normalised"
    );
}

#[test]
fn the_default_int8_model_stays_close_to_the_reference() {
    let int8 = model(devicekb::config::DEFAULT_MODEL);
    assert_eq!(int8.name(), "multilingual-e5-small-int8");
    for cosine in reference_cosines(&int8) {
        assert!(cosine >= 0.97, "int8 vs reference cosine {cosine}");
    }
    let f32_model = e5();
    let text = "query: Comment retirer une feuille coincée dans le bac 2 ?";
    assert_eq!(
        int8.token_ids(text).unwrap(),
        f32_model.token_ids(text).unwrap()
    );
}

#[test]
fn a_text_gets_the_same_vector_whatever_is_embedded_with_it() {
    // The int8 model quantises activations per input tensor: run beside a long text, a
    // query used to come out slightly different, enough to swap two close entries.
    let int8 = model(devicekb::config::DEFAULT_MODEL);
    let query = "Bonjour, la C750 du 2e étage affiche 88 depuis ce matin";
    let long = "Le papier se coince dans le tiroir 2 à chaque impression recto verso, \
                et le message 24x Bourrage papier revient même après avoir retiré la feuille. "
        .repeat(6);
    let alone = int8.embed_queries(&[query]).unwrap().remove(0);
    let batched = int8
        .embed_queries(&[long.as_str(), query])
        .unwrap()
        .remove(1);
    assert_eq!(alone, batched);
    let alone = int8.embed_passages(&[query]).unwrap().remove(0);
    let batched = int8
        .embed_passages(&[query, long.as_str()])
        .unwrap()
        .remove(0);
    assert_eq!(alone, batched);
}

#[test]
fn queries_spread_over_several_sessions_get_the_vectors_they_get_alone() {
    // Several queries at once run side by side on the query sessions (one thread each);
    // whichever session a text lands on, and in whatever order, its vector is the same,
    // and the passage session (two threads) gives a passage the vector it always had.
    let config = Config::from_vars(|_| None).unwrap();
    let dir = devicekb::config::cache_dir()
        .join("models")
        .join(devicekb::config::DEFAULT_MODEL);
    let single = OnnxEmbedder::load_with(&dir, &config.ort_dylib, 2, 1).unwrap();
    let several = OnnxEmbedder::load_with(&dir, &config.ort_dylib, 2, 3).unwrap();
    assert_eq!(several.query_parallelism(), 3);
    let texts: Vec<String> = (0..24)
        .map(|i| format!("ticket {i} : la C750 affiche {} depuis ce matin", 80 + i))
        .collect();
    let texts: Vec<&str> = texts.iter().map(String::as_str).collect();
    let spread = several.embed_queries(&texts).unwrap();
    for (text, vector) in texts.iter().zip(&spread) {
        assert_eq!(&single.embed_queries(&[text]).unwrap()[0], vector, "{text}");
    }
    assert_eq!(
        single.embed_passages(&texts[..2]).unwrap(),
        several.embed_passages(&texts[..2]).unwrap()
    );
}
#[test]
fn e5_puts_paraphrases_closer_than_unrelated_text_across_languages() {
    let model = e5();
    let v = model
        .embed_queries(&[
            "bourrage papier dans le tiroir",
            "paper jam in the tray",
            "facture impayée du mois dernier",
        ])
        .unwrap();
    assert!(dot(&v[0], &v[1]) > dot(&v[0], &v[2]) + 0.02);
}

#[test]
fn another_onnx_model_loads_from_its_directory() {
    let dir = devicekb::config::cache_dir().join("models/all-minilm-l6-v2");
    let config = Config::from_vars(|_| None).unwrap();
    let model = OnnxEmbedder::load(&dir, &config.ort_dylib, 1)
        .unwrap_or_else(|e| panic!("all-MiniLM-L6-v2 is prepared by `make setup` ({e})"));
    assert_eq!(model.name(), "all-minilm-l6-v2");
    assert_eq!(model.dim(), 384);
    let v = model
        .embed_queries(&[
            "paper jam in the printer",
            "the sheet is stuck inside the printer",
            "monthly invoice",
        ])
        .unwrap();
    assert!(dot(&v[0], &v[1]) > dot(&v[0], &v[2]) + 0.1);
}

#[test]
fn a_missing_or_broken_model_is_a_clear_error() {
    let config = Config::from_vars(|_| None).unwrap();
    let empty = tempfile::tempdir().unwrap();
    let err = OnnxEmbedder::load(empty.path(), &config.ort_dylib, 1)
        .err()
        .expect("no model there");
    assert!(err.to_string().contains("make setup"), "{err}");

    let broken = tempfile::tempdir().unwrap();
    for f in [
        "config.json",
        "special_tokens_map.json",
        "tokenizer_config.json",
        "tokenizer.json",
        "devicekb-model.toml",
    ] {
        std::fs::copy(config.model_dir.join(f), broken.path().join(f)).unwrap();
    }
    std::fs::write(broken.path().join("model.onnx"), b"not an onnx model").unwrap();
    let err = OnnxEmbedder::load(broken.path(), &config.ort_dylib, 1)
        .err()
        .expect("a broken model is refused");
    assert!(
        err.to_string().contains("cannot load the embedding model"),
        "{err}"
    );
}

#[test]
fn the_cli_reports_a_missing_model_or_runtime_without_panicking() {
    for (var, value, expected) in [
        (
            "DEVICEKB_MODEL_DIR",
            "/nonexistent/model",
            "devicekb-model.toml",
        ),
        (
            "ORT_DYLIB_PATH",
            "/nonexistent/libonnxruntime.so",
            "ONNX Runtime library not found",
        ),
    ] {
        let out = Command::new(env!("CARGO_BIN_EXE_devicekb"))
            .args(["search", "toner", "--data", "/nonexistent/data"])
            .env(var, value)
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(1));
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.contains(expected), "{stderr}");
        assert!(!stderr.contains("panicked"), "{stderr}");
    }
}

/// A French entry with only a title and a description.
fn french_entry(id: &str, title: &str, description: &str) -> devicekb::kb::KbEntry {
    serde_json::from_value(serde_json::json!({
        "id": id, "title": title, "lang": "fr", "manufacturer": "", "models": [],
        "category": "general", "error_codes": [], "symptoms": [], "description": description,
        "cause": "", "solution": "", "steps": [], "tags": [], "source": "s"
    }))
    .unwrap()
}

#[test]
fn the_glossary_finds_the_french_kb_s_words_for_english_ones() {
    use devicekb::index::glossary::Glossary;
    use devicekb::kb::Lang;
    let model = model(devicekb::config::DEFAULT_MODEL);
    let kb = vec![
        french_entry(
            "loyer",
            "Que faire si le locataire ne paie pas son loyer ?",
            "Le propriétaire peut demander le remboursement des loyers impayés.",
        ),
        french_entry(
            "voiture",
            "Faut-il une assurance pour conduire une voiture ?",
            "Tout véhicule qui circule doit être assuré, même une voiture de collection.",
        ),
        french_entry(
            "mariage",
            "Quels documents pour un mariage à la mairie ?",
            "Les futurs époux déposent un dossier de mariage à la mairie.",
        ),
    ];
    let glossary = Glossary::build(&kb, &model, None).unwrap();
    assert_eq!(glossary.lang(), Some(Lang::Fr));
    let words = glossary.words_to_translate(
        "Do I need insurance for my car before the wedding? Vehicle",
        Lang::En,
    );
    // "car" is too short to be looked up, "need" and "before" say nothing.
    assert_eq!(words, vec!["insurance", "wedding", "vehicle"]);
    let refs: Vec<&str> = words.iter().map(String::as_str).collect();
    let nearest = glossary.nearest_words(&model.embed_queries(&refs).unwrap());
    for expected in ["assurance", "mariage", "véhicule"] {
        assert!(
            nearest.contains(&expected.to_string()),
            "{expected} not in {nearest:?}"
        );
    }
    // A name has no translation.
    let far = glossary.nearest_words(&model.embed_queries(&["natarajan"]).unwrap());
    assert!(far.is_empty(), "{far:?}");
}
