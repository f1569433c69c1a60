use super::*;

fn entry(id: &str, lang: Lang, title: &str, description: &str) -> KbEntry {
    KbEntry {
        lang,
        ..KbEntry::sample(id, title, description)
    }
}

/// Vectors that make "loyer" the translation of "rent" and "délai" of "deadline", for a
/// model whose glossary cut is `min_cosine`.
struct Dictionary {
    min_cosine: f32,
}

/// `Dictionary` with the default model's cut.
const DICTIONARY: Dictionary = Dictionary {
    min_cosine: crate::embed::DEFAULT_GLOSSARY_MIN_COSINE,
};

/// `Dictionary` for a model whose cosines spread wider, so its cut is lower.
const WIDE_MODEL: Dictionary = Dictionary { min_cosine: 0.8 };

impl Embedder for Dictionary {
    fn name(&self) -> &str {
        "dictionary"
    }
    fn dim(&self) -> usize {
        3
    }
    fn embed_queries(&self, texts: &[&str]) -> Result<Vec<Vec<f32>>> {
        Ok(texts
            .iter()
            .map(|t| match *t {
                "loyer" | "rent" => vec![1.0, 0.0, 0.0],
                "délai" | "deadline" => vec![0.0, 1.0, 0.0],
                "délais" => vec![0.0, 0.96, 0.28],
                "échéance" => vec![0.0, 0.99, 0.141],
                _ => vec![0.0, 0.0, 1.0],
            })
            .collect())
    }
    fn embed_passages(&self, texts: &[&str]) -> Result<Vec<Vec<f32>>> {
        self.embed_queries(texts)
    }
    fn glossary_min_cosine(&self) -> f32 {
        self.min_cosine
    }
}

fn french_kb() -> Vec<KbEntry> {
    vec![
        entry(
            "a",
            Lang::Fr,
            "Payer son loyer",
            "Le loyer se paie au mois.",
        ),
        entry(
            "b",
            Lang::Fr,
            "Délai de réponse",
            "Les délais sont d'un mois, avant l'échéance.",
        ),
    ]
}

#[test]
fn an_english_word_finds_its_french_translation() {
    let glossary = Glossary::build(&french_kb(), &DICTIONARY, None).unwrap();
    assert_eq!(glossary.lang(), Some(Lang::Fr));
    let words = glossary.words_to_translate("When is the rent deadline? Paie mois", Lang::En);
    // "the", "is" are short; "when" says nothing; "paie" and "mois" are the KB's.
    assert_eq!(words, vec!["rent", "deadline"]);
    let vectors = DICTIONARY.embed_queries(&["rent", "deadline"]).unwrap();
    // "deadline": "délai" (1.0) and "échéance" (0.99), which comes after "délais" (0.96)
    // in the table and takes its place: the two nearest, not the first two found.
    assert_eq!(
        glossary.nearest_words(&vectors),
        vec!["loyer", "délai", "échéance"]
    );
}

#[test]
fn a_message_in_the_kb_s_language_is_left_alone() {
    let glossary = Glossary::build(&french_kb(), &DICTIONARY, None).unwrap();
    assert!(glossary
        .words_to_translate("quel deadline pour le rent", Lang::Fr)
        .is_empty());
}

#[test]
fn far_words_are_not_translations() {
    let glossary = Glossary::build(&french_kb(), &DICTIONARY, None).unwrap();
    // Cosine 0.6 with "loyer", 0 or less with every other word of the KB.
    assert!(glossary.nearest_words(&[vec![0.6, 0.0, -0.8]]).is_empty());
    // A vector of the wrong size (another model's, or none) finds nothing either, and
    // neither does one that is not a number.
    assert!(glossary
        .nearest_words(&[vec![1.0, 0.0], Vec::new()])
        .is_empty());
    assert!(glossary
        .nearest_words(&[vec![f32::NAN, 0.0, 0.0]])
        .is_empty());
}

#[test]
fn a_bilingual_kb_has_no_main_language_and_translates_nothing() {
    let mut kb = french_kb();
    kb.push(entry("c", Lang::En, "Rent", "Pay the rent."));
    let glossary = Glossary::build(&kb, &DICTIONARY, None).unwrap();
    assert_eq!(glossary.lang(), None);
    assert!(glossary.is_empty());
    assert!(glossary.words_to_translate("deadline", Lang::En).is_empty());
}

/// Fails if asked for a word: everything must come from the previous glossary.
struct Refuses;
impl Embedder for Refuses {
    fn name(&self) -> &str {
        "dictionary"
    }
    fn dim(&self) -> usize {
        3
    }
    fn embed_queries(&self, texts: &[&str]) -> Result<Vec<Vec<f32>>> {
        if texts.is_empty() {
            Ok(Vec::new())
        } else {
            Err(Error::Embedding(format!("asked for {texts:?}")))
        }
    }
    fn embed_passages(&self, texts: &[&str]) -> Result<Vec<Vec<f32>>> {
        self.embed_queries(texts)
    }
}

#[test]
fn stored_and_loaded_alike_and_reused() {
    let dir = tempfile::tempdir().unwrap();
    let kb = french_kb();
    let built = Glossary::build(&kb, &DICTIONARY, None).unwrap();
    built.save(dir.path()).unwrap();
    let loaded = Glossary::load(dir.path(), &kb).unwrap();
    assert_eq!(loaded.words, built.words);
    assert_eq!(loaded.lang, built.lang);
    let vectors = DICTIONARY.embed_queries(&["deadline"]).unwrap();
    assert_eq!(
        loaded.nearest_words(&vectors),
        built.nearest_words(&vectors)
    );

    let rebuilt = Glossary::build(&kb, &Refuses, Some(&loaded)).unwrap();
    assert_eq!(rebuilt.words, built.words);
}

#[test]
fn a_generation_without_a_glossary_translates_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let glossary = Glossary::load(dir.path(), &french_kb()).unwrap();
    assert!(glossary.is_empty());
    assert!(glossary.words_to_translate("deadline", Lang::En).is_empty());
}

#[test]
fn makers_and_models_are_names_not_words_to_translate() {
    let mut kb = french_kb();
    kb[0].manufacturer = "Brother".into();
    kb[0].models = vec!["Brother HL-L2350DW".into()];
    let glossary = Glossary::build(&kb, &DICTIONARY, None).unwrap();
    assert_eq!(
        glossary.words_to_translate("my brother printer", Lang::En),
        vec!["printer"]
    );
}

#[test]
fn a_damaged_glossary_is_an_error_to_load_and_empty_to_open() {
    let dir = tempfile::tempdir().unwrap();
    let kb = french_kb();
    Glossary::build(&kb, &DICTIONARY, None)
        .unwrap()
        .save(dir.path())
        .unwrap();
    std::fs::write(dir.path().join(GLOSSARY_VECTORS_FILE), b"not vectors").unwrap();
    assert!(Glossary::load(dir.path(), &kb).is_err());
    let opened = Glossary::open(dir.path(), &kb);
    assert!(opened.is_empty());
    assert!(opened.words_to_translate("deadline", Lang::En).is_empty());
}

/// Rewrites the glossary file stored in `dir` through `edit`, as an older build or a damaged
/// disk would have left it.
fn edit_stored(dir: &Path, edit: impl FnOnce(&mut serde_json::Value)) {
    let path = dir.join(GLOSSARY_FILE);
    let mut stored: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
    edit(&mut stored);
    std::fs::write(&path, serde_json::to_vec(&stored).unwrap()).unwrap();
}

/// `kb`'s glossary built with `DICTIONARY`, saved in a new directory, then `edit_stored`.
fn saved_then_edited(
    kb: &[KbEntry],
    edit: impl FnOnce(&mut serde_json::Value),
) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    Glossary::build(kb, &DICTIONARY, None)
        .unwrap()
        .save(dir.path())
        .unwrap();
    edit_stored(dir.path(), edit);
    dir
}

#[test]
fn the_cut_is_the_model_s_and_is_kept_with_the_generation() {
    // Cosine 0.85 with "loyer": below the default cut, above this model's.
    let rentish = [vec![0.85, 0.0, (1.0f32 - 0.85 * 0.85).sqrt()]];
    let default = Glossary::build(&french_kb(), &DICTIONARY, None).unwrap();
    assert!(default.nearest_words(&rentish).is_empty());
    let wide = Glossary::build(&french_kb(), &WIDE_MODEL, None).unwrap();
    assert_eq!(wide.nearest_words(&rentish), vec!["loyer"]);

    let dir = tempfile::tempdir().unwrap();
    wide.save(dir.path()).unwrap();
    let loaded = Glossary::load(dir.path(), &french_kb()).unwrap();
    assert_eq!(loaded.nearest_words(&rentish), vec!["loyer"]);

    // A glossary stored before the cut was recorded was the default model's.
    edit_stored(dir.path(), |stored| {
        stored
            .as_object_mut()
            .unwrap()
            .remove("min_cosine")
            .unwrap();
    });
    let legacy = Glossary::load(dir.path(), &french_kb()).unwrap();
    assert!(legacy.nearest_words(&rentish).is_empty());
}

#[test]
fn words_embedded_before_int8_products_were_exact_are_embedded_again_where_they_saturate() {
    let kb = french_kb();
    // What a build before the change stored: no `exact_int8`.
    let dir = saved_then_edited(&kb, |stored| {
        assert_eq!(stored["exact_int8"], serde_json::Value::Bool(true));
        stored
            .as_object_mut()
            .unwrap()
            .remove("exact_int8")
            .unwrap();
    });
    let old = Glossary::load(dir.path(), &kb).unwrap();
    // Kept where those vectors were exact already (VNNI), embedded again elsewhere.
    let rebuilt = Glossary::build(&kb, &Refuses, Some(&old));
    assert_eq!(
        rebuilt.is_ok(),
        !crate::embed::int8_products_saturate_here(),
        "{:?}",
        rebuilt.err()
    );
}

#[test]
fn a_stored_cut_outside_zero_one_is_a_damaged_glossary() {
    let kb = french_kb();
    let dir = saved_then_edited(&kb, |stored| stored["min_cosine"] = serde_json::json!(5.0));
    let err = Glossary::load(dir.path(), &kb).err().unwrap().to_string();
    assert!(err.contains("translation cut"), "{err}");
    assert!(Glossary::open(dir.path(), &kb).is_empty());
}
