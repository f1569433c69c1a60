//! One retrieval on one generation: BM25 and the vector store each give their
//! candidates, fusion ranks them and the generation's calibration gives each hit its
//! relevance. The service searches with it, and reindex calibrates with it, so the
//! calibration sees exactly the evidence a real search produces.

use super::bm25::{normalize_code, Bm25Query};
use super::fusion::{fuse, FusedHit, FusionConfig};
use super::generation::Generation;
use super::query::{clean_query, retrieval_prefix};
use crate::error::Result;
use crate::kb::catalogue::model_key;
use crate::kb::lang::detect_lang;
use crate::kb::Lang;

/// What a search needs to know of a message before it runs.
#[derive(Debug, Clone, PartialEq)]
pub struct Analysed {
    /// The message without greeting, signature, quotes and contact details.
    pub text: String,
    pub lang: Lang,
    /// Error codes the extractor read.
    pub codes: Vec<String>,
    /// Model keys the search is restricted to.
    pub models: Option<Vec<String>>,
    /// The canonical model of that restriction.
    pub canonical: Option<String>,
    /// The caller asked for a model the catalogue does not know: nothing is specific to it.
    pub unknown_model: bool,
    /// What the lexicon adds for keyword search (see `kb::lexicon`).
    pub expansion: Vec<String>,
}

/// Reads `message`: its searchable text and language, its error codes, and the model
/// the search is restricted to (`model_filter` when given, else the one the text names
/// when the catalogue knows it).
pub fn analyse(generation: &Generation, message: &str, model_filter: Option<&str>) -> Analysed {
    let extraction = generation.extractor.extract(message);
    let named = match model_filter {
        Some(name) => generation.catalogue.resolve(name),
        None => extraction
            .model
            .as_deref()
            .and_then(|m| generation.catalogue.resolve(m)),
    };
    let canonical = named.map(|m| m.canonical());
    let (text, lang) = searchable(message);
    Analysed {
        lang,
        expansion: generation.lexicon.expand(&text),
        text,
        codes: extraction.error_codes,
        models: canonical.as_ref().map(|c| vec![model_key(c)]),
        unknown_model: model_filter.is_some() && named.is_none(),
        canonical,
    }
}

/// The words of `message` the glossary looks up (see `glossary`), read as `analyse`
/// reads the message: the service embeds them before it searches.
pub fn words_to_translate(generation: &Generation, message: &str) -> Vec<String> {
    if generation.glossary.is_empty() {
        return Vec::new();
    }
    let (text, lang) = searchable(message);
    generation.glossary.words_to_translate(&text, lang)
}

/// What a search reads of `message` (without greeting, signature and quotes, the part
/// the model reads) and its language.
fn searchable(message: &str) -> (String, Lang) {
    let text = retrieval_prefix(&clean_query(message)).to_string();
    let lang = detect_lang(&text);
    (text, lang)
}

/// Adds to the lexicon's expansion the KB's words nearest to the message's own when the
/// message is not in the KB's language (see `glossary`). `vectors` gives the vector of
/// each word looked up (the service's prefetched or cached ones, the calibration's from
/// the model); an empty vector stands for a word it does not have.
pub fn translate(
    generation: &Generation,
    analysed: &mut Analysed,
    vectors: impl FnOnce(&[&str]) -> Result<Vec<Vec<f32>>>,
) -> Result<()> {
    let glossary = &generation.glossary;
    let words = glossary.words_to_translate(&analysed.text, analysed.lang);
    if words.is_empty() {
        return Ok(());
    }
    let refs: Vec<&str> = words.iter().map(String::as_str).collect();
    for word in glossary.nearest_words(&vectors(&refs)?) {
        if !analysed.expansion.contains(&word) {
            analysed.expansion.push(word);
        }
    }
    Ok(())
}

impl Analysed {
    /// The search of this message: BM25 or not, with its vector or not.
    pub fn query<'a>(
        &'a self,
        bm25: bool,
        vector: Option<&'a [f32]>,
        candidates: usize,
        exclude: Option<u32>,
    ) -> HybridQuery<'a> {
        HybridQuery {
            text: &self.text,
            lang: self.lang,
            codes: &self.codes,
            expansion: &self.expansion,
            models: self.models.as_deref(),
            bm25,
            vector,
            candidates,
            exclude,
            without_confirmed_of: None,
        }
    }
}

/// A query already cleaned and analysed by the caller.
pub struct HybridQuery<'a> {
    /// The text to search with (see `query::clean_query`).
    pub text: &'a str,
    pub lang: Lang,
    /// Error codes the extractor read in the text (boosted in BM25).
    pub codes: &'a [String],
    /// The lexicon's additions to the text, for BM25.
    pub expansion: &'a [String],
    /// Model keys an entry must carry (generic entries always pass); `None`: any.
    pub models: Option<&'a [String]>,
    /// Run BM25 (false: vector only).
    pub bm25: bool,
    /// The query embedding; `None`: BM25 only.
    pub vector: Option<&'a [f32]>,
    pub candidates: usize,
    /// An entry to leave out, as if the KB did not have it (calibration's held-out queries).
    pub exclude: Option<u32>,
    /// An entry whose confirmed answers are left out, as if no customer had asked about
    /// it before (the calibration's unseen queries).
    pub without_confirmed_of: Option<u32>,
}

/// Ranked, fused hits with their calibrated relevance.
pub fn search(
    generation: &Generation,
    q: &HybridQuery<'_>,
    fusion: &FusionConfig,
) -> Result<Vec<FusedHit>> {
    // One more candidate than asked, so leaving one entry out keeps the list length.
    let limit = q.candidates + usize::from(q.exclude.is_some());
    let mut bm25 = if q.bm25 {
        generation.bm25.search(
            &Bm25Query {
                text: q.text,
                models: q.models,
                codes: q.codes,
                expansion: q.expansion,
                limit,
            },
            q.lang,
        )?
    } else {
        Vec::new()
    };
    let mut vector = match q.vector {
        Some(v) if !generation.vectors.is_empty() => {
            generation.vectors.search(v, q.models, limit)?
        }
        _ => Vec::new(),
    };
    if let (Some(v), Some(confirmed)) = (q.vector, &generation.confirmed) {
        let mut earlier = confirmed.search(v, q.models, limit + 1)?;
        earlier.retain(|(o, _)| Some(*o) != q.without_confirmed_of);
        vector = with_confirmed(vector, earlier, limit);
    }
    if let Some(ord) = q.exclude {
        bm25.retain(|(o, _)| *o != ord);
        vector.retain(|(o, _)| *o != ord);
    }
    bm25.truncate(q.candidates);
    vector.truncate(q.candidates);
    let model = &generation.calibration.model;
    let code_matches = entries_with_codes(generation, q.codes, &bm25, &vector);
    let mut hits = fuse(&bm25, &vector, &code_matches, fusion, model);
    if let (Some(v), Some(unhelpful)) = (q.vector, &generation.unhelpful) {
        mark_unhelpful(&mut hits, &vector, &unhelpful.search(v, q.models, limit)?);
    }
    Ok(hits)
}

/// Marks the hits a message like this one found unhelpful: the entry's nearest unhelpful
/// message (lowered like a confirmed answer) is closer than anything that says it answers
/// the message, its passages or its confirmed answers (`vector`, the merged ranking). An
/// entry the vector search did not return scores at most its last candidate. The
/// calibrated relevance is left as it is: only the decision reads the mark.
fn mark_unhelpful(hits: &mut [FusedHit], vector: &[(u32, f32)], unhelpful: &[(u32, f32)]) {
    let last = vector.last().map_or(f32::NEG_INFINITY, |(_, s)| *s);
    for hit in hits.iter_mut() {
        let Some(&(_, against)) = unhelpful.iter().find(|(o, _)| *o == hit.ord) else {
            continue;
        };
        let support = vector
            .iter()
            .find(|(o, _)| *o == hit.ord)
            .map_or(last, |(_, s)| *s);
        hit.unhelpful_before = against > support;
    }
}

/// The entries' passages' ranking and the confirmed answers' as one: each entry at its
/// better score, best first, `limit` of them.
fn with_confirmed(
    passages: Vec<(u32, f32)>,
    confirmed: Vec<(u32, f32)>,
    limit: usize,
) -> Vec<(u32, f32)> {
    let mut merged = passages;
    for (ord, score) in confirmed {
        match merged.iter_mut().find(|(o, _)| *o == ord) {
            Some(hit) => hit.1 = hit.1.max(score),
            None => merged.push((ord, score)),
        }
    }
    merged.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
    merged.truncate(limit);
    merged
}

/// Among the candidates, the entries that carry one of `codes`.
fn entries_with_codes(
    generation: &Generation,
    codes: &[String],
    bm25: &[(u32, f32)],
    vector: &[(u32, f32)],
) -> Vec<u32> {
    if codes.is_empty() {
        return Vec::new();
    }
    let wanted: Vec<String> = codes.iter().map(|c| normalize_code(c)).collect();
    let mut matches: Vec<u32> = bm25
        .iter()
        .chain(vector)
        .map(|&(ord, _)| ord)
        .filter(|&ord| {
            generation
                .entry(ord)
                .error_codes
                .iter()
                .any(|c| wanted.contains(&normalize_code(c)))
        })
        .collect();
    matches.sort_unstable();
    matches.dedup();
    matches
}

/// BM25's ranking when it alone is decisive: the query names a model and an error code,
/// BM25's first hit carries that code and its second does not. The embedding knows
/// nothing of codes, so on such a query it can only agree or mislead; the hybrid first
/// hit was BM25's on every such query measured (`decisive` in the calibration). `None`:
/// not decisive, the query needs its vector. Relevances are the plain BM25-only ones;
/// `decisive` gives the first its measured precision. Decided on `fusion.candidates`
/// hits, as the calibration measured it.
pub fn decisive_ranking(
    generation: &Generation,
    analysed: &Analysed,
    exclude: Option<u32>,
    fusion: &FusionConfig,
) -> Result<Option<Vec<FusedHit>>> {
    if analysed.codes.is_empty() || analysed.models.is_none() {
        return Ok(None);
    }
    let query = analysed.query(true, None, fusion.candidates, exclude);
    let hits = search(generation, &query, fusion)?;
    // An entry a customer found unhelpful for some message is checked against the
    // message's vector (`mark_unhelpful`), which this ranking does without.
    if let (Some(first), Some(unhelpful)) = (hits.first(), &generation.unhelpful) {
        if unhelpful.names(first.ord) {
            return Ok(None);
        }
    }
    // `fuse` marks the hits carrying a code the query names.
    let carries = |hit: &FusedHit| hit.features.code_match > 0.0;
    Ok(match hits.as_slice() {
        [first, rest @ ..] if carries(first) && !rest.first().is_some_and(carries) => Some(hits),
        _ => None,
    })
}

/// `decisive_ranking` on a generation that measured BM25's precision when decisive, with
/// that precision as the first hit's relevance. The others share what is left: if the
/// first answers with probability p, another does with at most 1 - p. `None`: the query
/// needs its vector.
pub fn decisive(
    generation: &Generation,
    analysed: &Analysed,
    fusion: &FusionConfig,
) -> Result<Option<Vec<FusedHit>>> {
    let Some(measured) = generation.calibration.decisive else {
        return Ok(None);
    };
    let Some(mut hits) = decisive_ranking(generation, analysed, None, fusion)? else {
        return Ok(None);
    };
    if let Some((first, rest)) = hits.split_first_mut() {
        first.relevance = measured.precision;
        for hit in rest {
            hit.relevance = hit.relevance.min(1.0 - measured.precision);
        }
    }
    Ok(Some(hits))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_confirmed_answer_lifts_its_entry_to_its_better_score() {
        let passages = vec![(3, 0.86), (1, 0.84), (2, 0.80)];
        let confirmed = vec![(2, 0.88), (5, 0.83), (1, 0.70)];
        let merged = with_confirmed(passages, confirmed, 4);
        assert_eq!(merged, [(2, 0.88), (3, 0.86), (1, 0.84), (5, 0.83)]);
        assert_eq!(with_confirmed(Vec::new(), vec![(0, 0.5)], 3), [(0, 0.5)]);
    }

    #[test]
    fn an_entry_closer_to_an_unhelpful_message_than_to_its_support_is_marked() {
        let vector = vec![(3, 0.86), (1, 0.84), (2, 0.80)];
        let model = crate::index::fusion::RelevanceModel::default();
        let mut hits = fuse(&[], &vector, &[], &FusionConfig::default(), &model);
        // Entry 3: its unhelpful message is closer than its support; entry 1: farther;
        // entry 2 has none; entry 9, not a hit, changes nothing.
        mark_unhelpful(&mut hits, &vector, &[(3, 0.90), (1, 0.83), (9, 0.99)]);
        let marked: Vec<(u32, bool)> = hits.iter().map(|h| (h.ord, h.unhelpful_before)).collect();
        assert_eq!(marked, [(3, true), (1, false), (2, false)]);
        // A hit the vector search did not return is held to its last candidate's score.
        let mut hits = fuse(&[(7, 12.0)], &vector, &[], &FusionConfig::default(), &model);
        mark_unhelpful(&mut hits, &vector, &[(7, 0.81)]);
        assert!(hits.iter().find(|h| h.ord == 7).unwrap().unhelpful_before);
    }
}
