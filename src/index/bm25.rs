//! Keyword retrieval with tantivy: per-language fields with their analyzers, boosted
//! title and symptom fields, exact keyword fields for error codes and model names, and
//! fuzzy terms for words the index has never seen (typos).
//!
//! Queries are built term by term, never through tantivy's query parser, so quotes,
//! colons, parentheses, `AND`/`OR` or `*` in a customer's message are just text.

use std::path::Path;
use std::sync::LazyLock;

use regex::Regex;
use tantivy::columnar::Column;
use tantivy::query::{
    BooleanQuery, BoostQuery, ConstScoreQuery, FuzzyTermQuery, Occur, Query, TermQuery,
};
use tantivy::schema::{
    Field, IndexRecordOption, NumericOptions, Schema, TextFieldIndexing, TextOptions, STORED,
    STRING,
};
use tantivy::{doc, Index, IndexReader, ReloadPolicy, Searcher, Term};

use super::analyzer::{self, analyze};
use crate::error::{Error, Result};
use crate::kb::catalogue::model_key;
use crate::kb::{Catalogue, KbEntry, Lang};

/// Value of the model-filter field for entries that apply to every model.
pub const GENERIC_MODEL: &str = "*";

const TITLE_BOOST: f32 = 3.0;
const SYMPTOMS_BOOST: f32 = 2.0;
const BODY_BOOST: f32 = 1.0;
const PLAIN_BOOST: f32 = 0.5;
const CODE_BOOST: f32 = 8.0;
/// Added on top of `CODE_BOOST` for a code the extractor vouches for.
const EXTRACTED_CODE_BOOST: f32 = 8.0;
const MODEL_BOOST: f32 = 3.0;
const FUZZY_BOOST: f32 = 0.6;
/// A word the lexicon adds (see `kb::lexicon`) weighs this much of one of the message's
/// own: the customer's words say what they mean, a group's other members only may. (A
/// group of many members adds many words, so together they can outweigh the word that
/// named them; one clause per group taking its best word would not.) Measured
/// at 0.5, 0.8 and 1.0 on the earlier project's KB (five ticket sets) and the bundled
/// KB: 0.8 and 1.0 find and answer more than 0.5 on the former (recall@1 +0.01 to +0.03
/// per set), the bundled KB is level.
const EXPANSION_BOOST: f32 = 0.8;

/// The weights keyword scores are made of. A calibration fitted on one set of weights
/// does not hold for another, so they join what a kept calibration is checked against
/// (`calibrate::fit_inputs`).
pub fn scoring_weights() -> [f32; 9] {
    [
        TITLE_BOOST,
        SYMPTOMS_BOOST,
        BODY_BOOST,
        PLAIN_BOOST,
        CODE_BOOST,
        EXTRACTED_CODE_BOOST,
        MODEL_BOOST,
        FUZZY_BOOST,
        EXPANSION_BOOST,
    ]
}
/// Unknown words that get fuzzy variants, per query: a typo or two is what they are for;
/// a text of unknown words would otherwise cost a dictionary walk per word.
const MAX_FUZZY_WORDS: usize = 8;

#[derive(Clone, Copy)]
struct LangFields {
    title: Field,
    symptoms: Field,
    body: Field,
}

#[derive(Clone, Copy)]
struct Fields {
    ord: Field,
    by_lang: [LangFields; 2],
    plain: Field,
    codes: Field,
    model_tokens: Field,
    model_filter: Field,
}

fn lang_slot(lang: Lang) -> usize {
    match lang {
        Lang::Fr => 0,
        Lang::En => 1,
    }
}

fn text_field(schema: &mut tantivy::schema::SchemaBuilder, name: &str, analyzer: &str) -> Field {
    let indexing = TextFieldIndexing::default()
        .set_tokenizer(analyzer)
        .set_index_option(IndexRecordOption::WithFreqs);
    schema.add_text_field(name, TextOptions::default().set_indexing_options(indexing))
}

fn build_schema() -> (Schema, Fields) {
    let mut b = Schema::builder();
    b.add_text_field("id", STRING | STORED);
    let ord = b.add_u64_field("ord", NumericOptions::default().set_fast());
    let mut by_lang = Vec::new();
    for lang in Lang::ALL {
        let a = analyzer::analyzer_name(lang);
        let code = lang.code();
        by_lang.push(LangFields {
            title: text_field(&mut b, &format!("title_{code}"), a),
            symptoms: text_field(&mut b, &format!("symptoms_{code}"), a),
            body: text_field(&mut b, &format!("body_{code}"), a),
        });
    }
    let plain = text_field(&mut b, "plain", analyzer::PLAIN);
    let codes = text_field(&mut b, "codes", analyzer::KEYWORD);
    let model_tokens = text_field(&mut b, "model_tokens", analyzer::KEYWORD);
    let model_filter = b.add_text_field("model_filter", STRING);
    let fields = Fields {
        ord,
        by_lang: [by_lang[0], by_lang[1]],
        plain,
        codes,
        model_tokens,
        model_filter,
    };
    (b.build(), fields)
}

fn fields_of(schema: &Schema) -> Result<Fields> {
    let f = |name: &str| {
        schema.get_field(name).map_err(|_| {
            Error::index(format!(
                "index has no field `{name}`: built by another version"
            ))
        })
    };
    let lang = |code: &str| -> Result<LangFields> {
        Ok(LangFields {
            title: f(&format!("title_{code}"))?,
            symptoms: f(&format!("symptoms_{code}"))?,
            body: f(&format!("body_{code}"))?,
        })
    };
    Ok(Fields {
        ord: f("ord")?,
        by_lang: [lang("fr")?, lang("en")?],
        plain: f("plain")?,
        codes: f("codes")?,
        model_tokens: f("model_tokens")?,
        model_filter: f("model_filter")?,
    })
}

/// How an error code is compared: lowercase, no inner spaces ("SC 899-00" == "sc899-00").
pub fn normalize_code(code: &str) -> String {
    code.chars()
        .filter(|c| !c.is_whitespace())
        .flat_map(char::to_lowercase)
        .collect()
}

/// Text indexed in the body field of an entry.
fn body_text(entry: &KbEntry) -> String {
    let mut parts = vec![
        entry.description.as_str(),
        entry.cause.as_str(),
        entry.solution.as_str(),
    ];
    parts.extend(entry.steps.iter().map(String::as_str));
    parts.extend(entry.tags.iter().map(String::as_str));
    parts.join("\n")
}

/// Builds the BM25 index of `entries` in `dir` (which must be empty or absent).
/// The i-th entry gets ord i, which is how hits are mapped back to entries.
pub fn build(dir: &Path, entries: &[KbEntry], catalogue: &Catalogue) -> Result<()> {
    std::fs::create_dir_all(dir)
        .map_err(|e| Error::io(format!("creating {}", dir.display()), e))?;
    let (schema, f) = build_schema();
    let index = Index::create_in_dir(dir, schema.clone())?;
    analyzer::register(index.tokenizers());
    let mut writer = index.writer_with_num_threads(1, 100_000_000)?;
    let id_field = schema.get_field("id").expect("schema has id");
    for (ord, entry) in entries.iter().enumerate() {
        let lf = f.by_lang[lang_slot(entry.lang)];
        let mut d = doc!(
            id_field => entry.id.as_str(),
            f.ord => ord as u64,
            lf.title => entry.title.as_str(),
            lf.symptoms => entry.symptoms.join("\n"),
            lf.body => body_text(entry),
        );
        d.add_text(
            f.plain,
            format!(
                "{}\n{}\n{}",
                entry.title,
                entry.symptoms.join("\n"),
                body_text(entry)
            ),
        );
        for code in &entry.error_codes {
            d.add_text(f.codes, normalize_code(code));
        }
        if entry.models.is_empty() {
            d.add_text(f.model_filter, GENERIC_MODEL);
        }
        for model in &entry.models {
            d.add_text(f.model_filter, model_key(model));
            for spelling in catalogue.spellings(model) {
                d.add_text(f.model_tokens, model_key(&spelling));
            }
        }
        writer.add_document(d)?;
    }
    writer.commit()?;
    writer.wait_merging_threads()?;
    Ok(())
}

/// What to look for.
pub struct Bm25Query<'a> {
    pub text: &'a str,
    /// Model keys (see `model_key`) an entry must carry, generic entries always pass.
    /// `None` = no restriction.
    pub models: Option<&'a [String]>,
    /// Error codes the extractor found in the text: boosted above codes that merely
    /// appear in it ("88" in "88 pages" still matches, but less).
    pub codes: &'a [String],
    /// Words and phrases the lexicon adds to the text (weighed below the text's own).
    pub expansion: &'a [String],
    pub limit: usize,
}

/// An opened, immutable BM25 index.
pub struct Bm25Index {
    index: Index,
    _reader: IndexReader,
    searcher: Searcher,
    fields: Fields,
    ords: Vec<Column<u64>>,
}

static CODE_LIKE: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"[A-Za-z0-9]+(?:[.\-/][A-Za-z0-9]+)*").expect("valid regex"));

/// Words that carry a digit: candidates for error codes and model names.
fn code_like_tokens(text: &str) -> Vec<&str> {
    CODE_LIKE.find_iter(text).map(|m| m.as_str()).collect()
}

impl Bm25Index {
    pub fn open(dir: &Path) -> Result<Self> {
        let index = Index::open_in_dir(dir)?;
        analyzer::register(index.tokenizers());
        let fields = fields_of(&index.schema())?;
        let reader = index
            .reader_builder()
            .reload_policy(ReloadPolicy::Manual)
            .try_into()?;
        let searcher = reader.searcher();
        let ords = searcher
            .segment_readers()
            .iter()
            .map(|s| s.fast_fields().u64("ord"))
            .collect::<tantivy::Result<Vec<_>>>()?;
        Ok(Bm25Index {
            index,
            _reader: reader,
            searcher,
            fields,
            ords,
        })
    }

    pub fn num_docs(&self) -> u64 {
        self.searcher.num_docs()
    }

    fn exists(&self, term: &Term) -> bool {
        self.searcher.doc_freq(term).map(|n| n > 0).unwrap_or(false)
    }

    fn boosted(term: Term, boost: f32) -> Box<dyn Query> {
        Box::new(BoostQuery::new(
            Box::new(TermQuery::new(term, IndexRecordOption::WithFreqs)),
            boost,
        ))
    }

    /// One optional clause per field of `lf` whose index has `word`, at the field's
    /// weight times `weight`; whether any has it.
    fn word_clauses(
        &self,
        lf: LangFields,
        word: &str,
        weight: f32,
        clauses: &mut Vec<(Occur, Box<dyn Query>)>,
    ) -> bool {
        let mut known = false;
        for (field, boost) in [
            (lf.title, TITLE_BOOST),
            (lf.symptoms, SYMPTOMS_BOOST),
            (lf.body, BODY_BOOST),
        ] {
            let term = Term::from_field_text(field, word);
            if self.exists(&term) {
                known = true;
                clauses.push((Occur::Should, Self::boosted(term, boost * weight)));
            }
        }
        known
    }

    /// The scoring part of a query: one optional clause per (term, field).
    fn scoring_clauses(
        &self,
        text: &str,
        extracted_codes: &[String],
        expansion: &[String],
        query_lang: Lang,
    ) -> Vec<(Occur, Box<dyn Query>)> {
        let manager = self.index.tokenizers();
        let f = self.fields;
        let mut clauses: Vec<(Occur, Box<dyn Query>)> = Vec::new();

        for code in extracted_codes {
            let term = Term::from_field_text(f.codes, &normalize_code(code));
            if self.exists(&term) {
                clauses.push((Occur::Should, Self::boosted(term, EXTRACTED_CODE_BOOST)));
            }
        }

        // Error codes and model names, matched whole.
        let tokens = code_like_tokens(text);
        let mut seen_keys: Vec<String> = Vec::new();
        for (i, token) in tokens.iter().enumerate() {
            if !token.chars().any(|c| c.is_ascii_digit()) {
                continue;
            }
            let code = Term::from_field_text(f.codes, &normalize_code(token));
            if self.exists(&code) {
                clauses.push((Occur::Should, Self::boosted(code, CODE_BOOST)));
            }
            // "C 750" and "HL L2350DW" are written in two tokens: try each with its neighbours.
            let mut keys = vec![model_key(token)];
            if i > 0 {
                keys.push(model_key(&format!("{}{}", tokens[i - 1], token)));
            }
            for key in keys {
                if seen_keys.contains(&key) {
                    continue;
                }
                let term = Term::from_field_text(f.model_tokens, &key);
                if self.exists(&term) {
                    clauses.push((Occur::Should, Self::boosted(term, MODEL_BOOST)));
                }
                seen_keys.push(key);
            }
        }

        // Words, analysed both ways; fuzzy variants only in the query's own language,
        // for the first few unknown words (each one walks the term dictionary).
        let mut fuzzy_words = 0;
        for lang in Lang::ALL {
            let lf = f.by_lang[lang_slot(lang)];
            let mut fuzzed: Vec<String> = Vec::new();
            let own = analyze(manager, analyzer::analyzer_name(lang), text);
            let mut added: Vec<String> = Vec::new();
            let additions = expansion.join(" ");
            for word in analyze(manager, analyzer::analyzer_name(lang), &additions) {
                if !own.contains(&word) && !added.contains(&word) {
                    self.word_clauses(lf, &word, EXPANSION_BOOST, &mut clauses);
                    added.push(word);
                }
            }
            for word in own {
                let known = self.word_clauses(lf, &word, 1.0, &mut clauses);
                if !known
                    && lang == query_lang
                    && fuzzy_words < MAX_FUZZY_WORDS
                    && !fuzzed.contains(&word)
                    && word.chars().count() >= 4
                    && !word.chars().any(|c| c.is_ascii_digit())
                {
                    fuzzy_words += 1;
                    fuzzed.push(word.clone());
                    let distance = if word.chars().count() >= 8 { 2 } else { 1 };
                    for field in [lf.title, lf.symptoms, lf.body] {
                        let fuzzy = FuzzyTermQuery::new(
                            Term::from_field_text(field, &word),
                            distance,
                            true,
                        );
                        clauses.push((
                            Occur::Should,
                            Box::new(BoostQuery::new(Box::new(fuzzy), FUZZY_BOOST)),
                        ));
                    }
                }
            }
        }
        for word in analyze(manager, analyzer::PLAIN, text) {
            let term = Term::from_field_text(f.plain, &word);
            if self.exists(&term) {
                clauses.push((Occur::Should, Self::boosted(term, PLAIN_BOOST)));
            }
        }
        clauses
    }

    /// Top entries for `q` as (entry ord, BM25 score), best first.
    pub fn search(&self, q: &Bm25Query<'_>, query_lang: Lang) -> Result<Vec<(u32, f32)>> {
        let clauses = self.scoring_clauses(q.text, q.codes, q.expansion, query_lang);
        if clauses.is_empty() || q.limit == 0 {
            return Ok(Vec::new());
        }
        let scoring: Box<dyn Query> = Box::new(BooleanQuery::new(clauses));
        let query: Box<dyn Query> = match q.models {
            None => scoring,
            Some(models) => {
                let mut allowed: Vec<(Occur, Box<dyn Query>)> = models
                    .iter()
                    .map(|m| {
                        let t = Term::from_field_text(self.fields.model_filter, m);
                        (
                            Occur::Should,
                            Box::new(TermQuery::new(t, IndexRecordOption::Basic)) as Box<dyn Query>,
                        )
                    })
                    .collect();
                let generic = Term::from_field_text(self.fields.model_filter, GENERIC_MODEL);
                allowed.push((
                    Occur::Should,
                    Box::new(TermQuery::new(generic, IndexRecordOption::Basic)),
                ));
                Box::new(BooleanQuery::new(vec![
                    (Occur::Must, scoring),
                    (
                        Occur::Must,
                        Box::new(ConstScoreQuery::new(
                            Box::new(BooleanQuery::new(allowed)),
                            0.0,
                        )),
                    ),
                ]))
            }
        };
        let top = self.searcher.search(
            &query,
            &tantivy::collector::TopDocs::with_limit(q.limit).order_by_score(),
        )?;
        let mut out = Vec::with_capacity(top.len());
        for (score, addr) in top {
            let ord = self.ords[addr.segment_ord as usize]
                .first(addr.doc_id)
                .ok_or_else(|| Error::index("a document has no ord"))?;
            out.push((ord as u32, score));
        }
        Ok(out)
    }
}
