//! How far BM25 alone can be trusted when it is decisive (`hybrid::decisive_ranking`).
//!
//! A search may skip its query embedding when the message names a model and an error
//! code that one entry carries: the vector cannot know the code, so it can only agree
//! with BM25 or mislead. Whether that holds on a KB is measured, not assumed: each entry
//! that names models and codes gives the queries a customer writing about it would
//! (its title, its symptoms, the code with the start of its description, each after a
//! model the entry covers), one in three searched as if the KB lacked the entry. The
//! share of the decisive ones whose first hit answers is the relevance such a search
//! reports; with fewer than `MIN_DECISIVE_QUERIES` decisive, no search skips.

use super::fit::held_out_weight;
use super::samples::{duplicates, is_answer};
use crate::error::Result;
use crate::index::calibration::DecisivePrecision;
use crate::index::fusion::FusionConfig;
use crate::index::generation::Generation;
use crate::index::hybrid;
use crate::kb::KbEntry;

/// Most queries the measure runs: BM25 alone, about a millisecond each.
const DECISIVE_BUDGET: usize = 1500;
/// Symptoms of one entry turned into queries.
const SYMPTOMS_PER_ENTRY: usize = 3;
/// Words of the description after the code in the code's query.
const DESCRIPTION_WORDS: usize = 12;

/// A query naming the model and code of `ord`, searched with `ord` left out or not.
#[derive(Debug, Clone, PartialEq)]
struct CodeQuery {
    text: String,
    ord: u32,
    held_out: bool,
}

fn code_queries(entries: &[KbEntry]) -> Vec<CodeQuery> {
    let mut out = Vec::new();
    for (ord, entry) in entries.iter().enumerate() {
        if entry.models.is_empty() || entry.error_codes.is_empty() {
            continue;
        }
        let model = |i: usize| &entry.models[i % entry.models.len()];
        let description: Vec<&str> = entry
            .description
            .split_whitespace()
            .take(DESCRIPTION_WORDS)
            .collect();
        let mut texts = vec![format!("{} {}", model(0), entry.title)];
        for (i, symptom) in entry.symptoms.iter().take(SYMPTOMS_PER_ENTRY).enumerate() {
            texts.push(format!("{} {symptom}", model(i + 1)));
        }
        texts.push(format!(
            "{} {} {}",
            model(0),
            entry.error_codes[0],
            description.join(" ")
        ));
        for (i, text) in texts.into_iter().enumerate() {
            out.push(CodeQuery {
                text,
                ord: ord as u32,
                held_out: (ord + i) % 3 == 0 && entries.len() > 1,
            });
        }
    }
    if out.len() > DECISIVE_BUDGET {
        let n = out.len();
        out = (0..DECISIVE_BUDGET)
            .map(|k| out[k * n / DECISIVE_BUDGET].clone())
            .collect();
    }
    out
}

/// BM25 alone's precision when decisive on `generation`, with the number of decisive
/// queries seen (`None` precision below `MIN_DECISIVE_QUERIES` of them). As in the
/// precision curve, the held-out queries stand for the uncovered fifth of the tickets,
/// whatever share of the queries they are.
pub fn decisive_precision(
    generation: &Generation,
    fusion: &FusionConfig,
) -> Result<(Option<DecisivePrecision>, usize)> {
    let dups = duplicates(&generation.entries);
    let queries = code_queries(&generation.entries);
    let held_out = queries.iter().filter(|q| q.held_out).count();
    let held_weight = held_out_weight(queries.len() - held_out, held_out);
    let (mut fired, mut right) = (0, 0);
    let (mut fired_weight, mut right_weight) = (0.0f32, 0.0f32);
    for q in &queries {
        let analysed = hybrid::analyse(generation, &q.text, None);
        let exclude = q.held_out.then_some(q.ord);
        let Some(hits) = hybrid::decisive_ranking(generation, &analysed, exclude, fusion)? else {
            continue;
        };
        let answers = is_answer(&dups, &[q.ord], exclude, hits[0].ord);
        let weight = if q.held_out { held_weight } else { 1.0 };
        fired += 1;
        fired_weight += weight;
        if answers {
            right += 1;
            right_weight += weight;
        }
    }
    Ok((
        DecisivePrecision::measured(fired, right, fired_weight, right_weight),
        fired,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_entries_with_models_and_codes_give_queries_and_a_third_is_held_out() {
        let mut with = KbEntry::sample("a", "Erreur E3 bourrage", "Le papier reste coincé");
        with.models = vec!["Brother HL-L2350DW".into()];
        with.error_codes = vec!["E3".into()];
        with.symptoms = vec!["papier coincé".into(), "voyant rouge".into()];
        let without = KbEntry::sample("b", "Toner pâle", "Impression claire");
        let queries = code_queries(&[with.clone(), without, with]);
        assert!(queries.iter().all(|q| q.ord != 1));
        assert_eq!(queries.len(), 8);
        assert!(queries[0].text.starts_with("Brother HL-L2350DW Erreur E3"));
        let held = queries.iter().filter(|q| q.held_out).count();
        assert!((2..=4).contains(&held), "{held}");
    }
}
