//! What a reindex does with the KB's confirmed answers (see `kb::confirmed`): their
//! passages, their vectors (reused across generations like the entries'), and the index
//! the calibration searches them on.

use std::collections::{HashMap, HashSet};
use std::path::Path;
use std::sync::Arc;

use serde::Serialize;

use super::calibrate::{self, ConfirmedQueries};
use super::chunk::chunk_key;
use super::generation::{
    ConfirmedIndex, Generation, CONFIRMED_VECTORS_FILE, UNHELPFUL_VECTORS_FILE,
};
use super::query::{clean_query, retrieval_prefix};
use super::vector::{ChunkVectors, EmbeddedVectorStore};
use crate::embed::Embedder;
use crate::error::{Error, Result};
use crate::kb::confirmed::ConfirmedAnswer;
use crate::kb::KbEntry;

/// Confirmed answers embedded per model call.
const EMBED_BATCH: usize = 32;

/// The confirmed answers a generation searches beside its entries.
#[derive(Debug, Clone, Default, Serialize, utoipa::ToSchema)]
pub struct ConfirmedSummary {
    /// Passages searched (one per answer and entry it names).
    pub answers: usize,
    /// Of those, embedded by this build (the others reused).
    pub embedded: usize,
    /// Answers left out: they name no entry of the KB.
    pub dropped: usize,
    /// What their cosine is lowered by at search.
    pub offset: f32,
    /// Messages searched for the entries that did not answer them (one per message and
    /// entry): a message like one of them is not answered automatically with that entry.
    pub unhelpful: usize,
    /// Unhelpful marks left out: their entry changed since the customer read it.
    #[serde(default)]
    pub unhelpful_lapsed: usize,
}

/// The confirmed answers as passages of the entries they name.
pub struct ConfirmedChunks {
    /// Entry ord and passage, one per answer and entry it names.
    pub chunks: Vec<(u32, String)>,
    /// Entry ord and passage, one per answer and entry that did not answer it (an
    /// automatic reply the customer found unhelpful).
    pub unhelpful: Vec<(u32, String)>,
    /// Answers naming no entry of this KB (removed since): left out.
    pub dropped: usize,
    /// Unhelpful marks left out because their entry changed since the reply: the editor
    /// may have fixed what did not help.
    pub lapsed: usize,
}

/// The answers' passages by entry. An unhelpful mark holds while its recorded version is
/// its entry's `reply_version` (what the reply showed), or, for a mark recorded before that
/// was kept, its content hash (`content_hashes`).
pub fn confirmed_chunks(
    entries: &[KbEntry],
    content_hashes: &HashMap<String, String>,
    confirmed: &[ConfirmedAnswer],
) -> ConfirmedChunks {
    let ords: HashMap<&str, u32> = entries
        .iter()
        .enumerate()
        .map(|(ord, e)| (e.id.as_str(), ord as u32))
        .collect();
    let ords_of = |ids: &[String]| -> Vec<u32> {
        ids.iter()
            .filter_map(|id| ords.get(id.as_str()).copied())
            .collect()
    };
    let mut chunks = Vec::new();
    let mut unhelpful = Vec::new();
    let mut seen = HashSet::new();
    let mut seen_unhelpful = HashSet::new();
    let mut seen_lapsed = HashSet::new();
    let mut dropped = 0;
    let mut lapsed = 0;
    for answer in confirmed {
        // Read as a search reads a message: no greeting, signature or quotes, its first
        // part; whitespace folded so a line break does not make a second passage.
        let passage = retrieval_prefix(&clean_query(&answer.text))
            .split_whitespace()
            .collect::<Vec<_>>()
            .join(" ");
        let named = ords_of(&answer.entries);
        let marked = ords_of(&answer.not_answered_by);
        if (named.is_empty() && marked.is_empty()) || passage.is_empty() {
            dropped += 1;
            continue;
        }
        let (not_by, changed): (Vec<u32>, Vec<u32>) = marked.into_iter().partition(|&ord| {
            let entry = &entries[ord as usize];
            answer
                .not_answered_by_versions
                .get(&entry.id)
                .is_none_or(|read| {
                    content_hashes.get(&entry.id) == Some(read) || *read == entry.reply_version()
                })
        });
        for ord in changed {
            // Counted as the marks that hold are: once per entry and message.
            if seen_lapsed.insert((ord, passage.clone())) {
                lapsed += 1;
            }
        }
        for ord in named {
            // The same message confirmed twice for an entry is one passage.
            if seen.insert((ord, passage.clone())) {
                chunks.push((ord, passage.clone()));
            }
        }
        for ord in not_by {
            if seen_unhelpful.insert((ord, passage.clone())) {
                unhelpful.push((ord, passage.clone()));
            }
        }
    }
    ConfirmedChunks {
        chunks,
        unhelpful,
        dropped,
        lapsed,
    }
}

/// The passages' vectors, reused where `reused` has one for the same key (model and
/// text, as the entries' chunks), with their keys and how many were embedded.
pub fn embed_confirmed<'a>(
    chunks: &[(u32, String)],
    model: &str,
    embedder: &dyn Embedder,
    reused: impl Fn(&str) -> Option<&'a [f32]>,
) -> Result<(ChunkVectors, Vec<String>, usize)> {
    let _span = tracing::info_span!("confirmed", answers = chunks.len()).entered();
    let keys: Vec<String> = chunks
        .iter()
        .map(|(_, passage)| chunk_key(model, passage))
        .collect();
    let mut vectors =
        ChunkVectors::zeroed(embedder.dim(), chunks.iter().map(|(ord, _)| *ord).collect());
    let mut missing = Vec::new();
    for (row, key) in keys.iter().enumerate() {
        match reused(key) {
            Some(v) => vectors.set(row, v)?,
            None => missing.push(row),
        }
    }
    vectors.embed_rows(
        &missing,
        |row| chunks[row].1.as_str(),
        EMBED_BATCH,
        "confirmed answers",
        |texts| embedder.embed_passages(texts),
        |_| {},
    )?;
    Ok((vectors, keys, missing.len()))
}

/// Writes the desk's messages' vectors into the generation being built (`partial`) and
/// returns what their cosine is lowered by: measured on the confirmed answers; with
/// unhelpful replies' messages alone, nothing to measure it on, so the default (with
/// none, a message would beat an entry's prose on style alone).
pub fn save_desk_messages(
    partial: &Path,
    embedder: &dyn Embedder,
    passages: &ChunkVectors,
    (confirmed, chunks): (&ChunkVectors, &[(u32, String)]),
    unhelpful: &ChunkVectors,
) -> Result<f32> {
    let offset = if confirmed.is_empty() {
        if unhelpful.is_empty() {
            0.0
        } else {
            calibrate::DEFAULT_OFFSET
        }
    } else {
        confirmed.save(&partial.join(CONFIRMED_VECTORS_FILE))?;
        let offset = calibrate::confirmed_offset(embedder, passages, confirmed, chunks)?;
        tracing::info!(
            answers = confirmed.len(),
            offset,
            "indexed the confirmed answers"
        );
        offset
    };
    if !unhelpful.is_empty() {
        unhelpful.save(&partial.join(UNHELPFUL_VECTORS_FILE))?;
        tracing::info!(
            messages = unhelpful.len(),
            "indexed the messages whose automatic reply did not help"
        );
    }
    Ok(offset)
}

/// What the calibration says of the confirmed answers (shown with its notes).
pub fn calibration_note(
    chunks: &[(u32, String)],
    split: &ConfirmedQueries,
    offset: f32,
) -> Option<String> {
    if chunks.is_empty() {
        return None;
    }
    let searched = split
        .queries
        .iter()
        .filter(|q| q.exclude.is_none() && !q.without_confirmed)
        .count();
    if searched == 0 {
        return Some(format!(
            "{} confirmed answers are searched beside the entries (their cosine lowered by {offset:.3}); too few to join the calibration (it searches every second one of each entry, and needs {} of those)",
            chunks.len(),
            calibrate::MIN_SEARCHED
        ));
    }
    Some(format!(
        "{} confirmed answers are searched beside the entries (their cosine lowered by {offset:.3}); {searched} of them were searched as labelled queries without their own, also as if no customer had asked about their entry before ({:.0} % of tickets assumed so) and as if the KB lacked it",
        chunks.len(),
        100.0 * split.unseen_share
    ))
}

/// Makes `built` the generation the calibration searches: when some confirmed answers
/// are searched as queries, they are taken out of its confirmed index (an answer would
/// otherwise find itself). Changed in place, not opened a second time: a build's
/// generation serves nothing after its calibration (the server opens the published one).
pub fn leave_out_searched(
    built: &mut Arc<Generation>,
    split: &ConfirmedQueries,
    confirmed: &ChunkVectors,
    entry_models: Vec<Vec<String>>,
    offset: f32,
) -> Result<()> {
    if split.left_out.is_empty() {
        return Ok(());
    }
    let only = Arc::get_mut(built)
        .ok_or_else(|| Error::Internal("the generation being built is shared".into()))?;
    only.confirmed = Some(ConfirmedIndex {
        store: EmbeddedVectorStore::new(
            calibrate::without_rows(confirmed, &split.left_out),
            entry_models,
        ),
        offset,
    });
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kb::confirmed::ConfirmedBy;

    fn versions_of(entries: &[KbEntry]) -> HashMap<String, String> {
        entries
            .iter()
            .map(|e| (e.id.clone(), e.content_hash()))
            .collect()
    }

    fn answer(text: &str, entries: &[&str]) -> ConfirmedAnswer {
        ConfirmedAnswer {
            text: text.into(),
            entries: entries.iter().map(|e| e.to_string()).collect(),
            not_answered_by: Vec::new(),
            not_answered_by_versions: Default::default(),
            confirmed_by: ConfirmedBy::Agent,
            ticket_id: None,
        }
    }

    #[test]
    fn answers_become_passages_of_the_entries_they_name() {
        let entries = vec![
            KbEntry::sample("jam", "Bourrage", "papier coincé"),
            KbEntry::sample("toner", "Toner bas", "message 88"),
        ];
        let chunks = confirmed_chunks(
            &entries,
            &versions_of(&entries),
            &[
                answer("le  papier\n\treste   coincé", &["jam"]),
                // The same words again for the same entry: one passage.
                answer("le papier reste coincé", &["jam"]),
                answer("plus d'encre ?", &["toner", "removed-since"]),
                answer("une entrée disparue", &["removed-since"]),
                answer(&"encre ".repeat(1000), &["toner"]),
            ],
        );
        assert_eq!(chunks.dropped, 1);
        assert_eq!(chunks.chunks[0], (0, "le papier reste coincé".to_string()));
        assert_eq!(chunks.chunks[1], (1, "plus d'encre ?".to_string()));
        assert_eq!(chunks.chunks.len(), 3);
        // Cut as any searched message is.
        let long = &chunks.chunks[2].1;
        assert!(long.len() <= crate::index::query::MAX_RETRIEVAL_BYTES && long.ends_with("encre"));
        assert!(chunks.unhelpful.is_empty());
    }

    #[test]
    fn unhelpful_replies_become_passages_of_their_own() {
        let entries = vec![
            KbEntry::sample("jam", "Bourrage", "papier coincé"),
            KbEntry::sample("toner", "Toner bas", "message 88"),
        ];
        let mut line = answer("le bac 2 ne prend pas le relais", &["jam"]);
        line.not_answered_by = vec!["toner".into(), "removed-since".into()];
        let mut only_unhelpful = answer("pilote windows 11 ?", &[]);
        only_unhelpful.not_answered_by = vec!["toner".into()];
        let mut gone = answer("rien", &[]);
        gone.not_answered_by = vec!["removed-since".into()];
        let chunks = confirmed_chunks(
            &entries,
            &versions_of(&entries),
            &[line, only_unhelpful.clone(), only_unhelpful, gone],
        );
        assert_eq!(
            chunks.chunks,
            [(0, "le bac 2 ne prend pas le relais".to_string())]
        );
        assert_eq!(
            chunks.unhelpful,
            [
                (1, "le bac 2 ne prend pas le relais".to_string()),
                (1, "pilote windows 11 ?".to_string())
            ]
        );
        assert_eq!(chunks.dropped, 1);
        assert_eq!(chunks.lapsed, 0);
    }

    #[test]
    fn an_unhelpful_mark_lapses_once_its_entry_changes() {
        let mut entries = vec![
            KbEntry::sample("jam", "Bourrage", "papier coincé"),
            KbEntry::sample("driver", "Pilote incorrect", "réinstaller le pilote"),
        ];
        let read = entries[1].content_hash();
        let mut line = answer("pilote windows 11 ?", &[]);
        line.not_answered_by = vec!["driver".into(), "jam".into()];
        line.not_answered_by_versions = [("driver".to_string(), read)].into();
        let unchanged = confirmed_chunks(
            &entries,
            &versions_of(&entries),
            std::slice::from_ref(&line),
        );
        assert_eq!(unchanged.unhelpful.len(), 2);
        assert_eq!(unchanged.lapsed, 0);

        // The editor rewrote the driver entry: its mark lapses; the one without a
        // version (jam) holds.
        entries[1].description = "télécharger le pilote pour Windows 10 et 11".into();
        // The same line twice counts once, as the marks that hold do.
        let edited = confirmed_chunks(&entries, &versions_of(&entries), &[line.clone(), line]);
        assert_eq!(edited.unhelpful, [(0, "pilote windows 11 ?".to_string())]);
        assert_eq!(edited.lapsed, 1);
        assert_eq!(edited.dropped, 0);
    }

    #[test]
    fn a_mark_on_what_the_reply_showed_holds_until_the_fix_is_rewritten() {
        let mut entries = vec![KbEntry::sample(
            "driver",
            "Pilote incorrect",
            "réinstaller le pilote",
        )];
        let mut line = answer("pilote windows 11 ?", &[]);
        line.not_answered_by = vec!["driver".into()];
        line.not_answered_by_versions = [("driver".to_string(), entries[0].reply_version())].into();
        let marks = |entries: &[KbEntry], line: &ConfirmedAnswer| {
            let chunks =
                confirmed_chunks(entries, &versions_of(entries), std::slice::from_ref(line));
            (chunks.unhelpful.len(), chunks.lapsed)
        };
        assert_eq!(marks(&entries, &line), (1, 0));
        // What the customer never read changes: the mark holds.
        entries[0].symptoms = vec!["le pilote ne s'installe pas".into()];
        entries[0].tags = vec!["windows".into()];
        entries[0].source = "notice du pilote".into();
        assert_eq!(marks(&entries, &line), (1, 0));
        // The fix is rewritten: it lapses.
        entries[0].steps = vec!["Télécharger le pilote pour Windows 11".into()];
        assert_eq!(marks(&entries, &line), (0, 1));

        // A mark recorded before replies kept their version holds against the whole
        // entry, as it always did: a new symptom lifts it.
        let mut old = entries.clone();
        line.not_answered_by_versions = [("driver".to_string(), old[0].content_hash())].into();
        assert_eq!(marks(&old, &line), (1, 0));
        old[0].symptoms.push("erreur 0x80070005".into());
        assert_eq!(marks(&old, &line), (0, 1));
    }
}
