//! Splits entries into passages for dense embedding. Most entries fit in one passage;
//! long ones (imported manuals) are cut into overlapping word windows, each led by the
//! title so it keeps its subject. An entry's vector score is that of its best chunk.

use sha2::{Digest, Sha256};

use crate::kb::KbEntry;

/// Words per chunk: ~300 e5 tokens of French, well under the 512-token limit.
pub const CHUNK_WORDS: usize = 200;
pub const CHUNK_STRIDE: usize = 150;

pub fn chunk_entry(entry: &KbEntry) -> Vec<String> {
    let text = entry.passage_text();
    let words: Vec<&str> = text.split_whitespace().collect();
    // A short passage of the problem alone (title and symptoms): short customer
    // messages match it better than the whole entry, whose steps dilute the vector.
    let mut chunks = Vec::new();
    if !entry.symptoms.is_empty() {
        let mut head = vec![entry.title.trim().to_string()];
        head.extend(entry.symptoms.iter().map(|s| s.trim().to_string()));
        chunks.push(head.join(". "));
    }
    if words.len() <= CHUNK_WORDS {
        chunks.push(text);
        return chunks;
    }
    let mut start = 0;
    loop {
        let end = (start + CHUNK_WORDS).min(words.len());
        let body = words[start..end].join(" ");
        chunks.push(if start == 0 {
            body
        } else {
            format!("{}. {body}", entry.title.trim())
        });
        if end == words.len() {
            break;
        }
        start += CHUNK_STRIDE;
    }
    chunks
}

/// How passages are embedded; bumped when that changes the vectors (2: each passage
/// embedded alone, no longer beside the others of its batch), so older vectors are not
/// reused.
const EMBEDDING_PROCEDURE: u8 = 2;

/// Key under which a chunk's vector is reused across generations: same model, same
/// embedding procedure, same text.
pub fn chunk_key(model_name: &str, chunk: &str) -> String {
    let mut h = Sha256::new();
    h.update(model_name.as_bytes());
    h.update([0u8, EMBEDDING_PROCEDURE]);
    h.update(chunk.as_bytes());
    hex::encode(h.finalize())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(description: String) -> KbEntry {
        KbEntry::sample("x", "Titre", &description)
    }

    #[test]
    fn short_entries_are_one_chunk_plus_their_symptoms() {
        let mut e = entry("court".into());
        assert_eq!(chunk_entry(&e).len(), 1);
        e.symptoms = vec!["ça bourre".into()];
        assert_eq!(
            chunk_entry(&e),
            vec!["Titre. ça bourre".to_string(), e.passage_text()]
        );
    }

    #[test]
    fn long_entries_overlap_and_cover_every_word() {
        let words: Vec<String> = (0..500).map(|i| format!("w{i}")).collect();
        let chunks = chunk_entry(&entry(words.join(" ")));
        assert!(chunks.len() >= 3);
        assert!(chunks[1].starts_with("Titre. "));
        assert!(chunks.last().unwrap().contains("w499"));
        assert!(chunks
            .iter()
            .all(|c| c.split_whitespace().count() <= CHUNK_WORDS + 1));
    }
}
