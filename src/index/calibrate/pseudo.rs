//! Pseudo-queries: what each entry answers, made from its own words.

use super::CalibrationQuery;
use crate::kb::KbEntry;

/// A small deterministic generator (splitmix64), so a KB always gets the same queries.
struct Rng(u64);

impl Rng {
    fn new(seed: &str) -> Rng {
        // FNV-1a of the seed text.
        let mut h: u64 = 0xcbf29ce484222325;
        for b in seed.bytes() {
            h ^= b as u64;
            h = h.wrapping_mul(0x100000001b3);
        }
        Rng(h)
    }

    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e3779b97f4a7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58476d1ce4e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d049bb133111eb);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: usize) -> usize {
        if n == 0 {
            0
        } else {
            (self.next() % n as u64) as usize
        }
    }
}

fn words(text: &str) -> Vec<&str> {
    text.split_whitespace()
        .map(|w| w.trim_matches(|c: char| !c.is_alphanumeric()))
        .filter(|w| !w.is_empty())
        .collect()
}

/// Words that carry meaning: long enough not to be an article or a preposition.
fn content_words(text: &str) -> Vec<&str> {
    words(text)
        .into_iter()
        .filter(|w| w.chars().count() > 3 || w.chars().any(|c| c.is_ascii_digit()))
        .collect()
}

fn window(rng: &mut Rng, words: &[&str], min: usize, max: usize) -> Option<String> {
    if words.len() < min {
        return None;
    }
    let len = (min + rng.below(max - min + 1)).min(words.len());
    let start = rng.below(words.len() - len + 1);
    Some(words[start..start + len].join(" "))
}

/// A few words kept out of `words`, in a shuffled order: what a customer keeps of a
/// problem when they tell it their own way.
fn bag(rng: &mut Rng, words: &[&str], keep: usize) -> Option<String> {
    if words.len() < 3 {
        return None;
    }
    let mut pool: Vec<&str> = words.to_vec();
    let mut out = Vec::new();
    while out.len() < keep.min(words.len()) && !pool.is_empty() {
        out.push(pool.swap_remove(rng.below(pool.len())));
    }
    Some(out.join(" "))
}

/// Kept words and words of other entries in the bags of an entry's pseudo-queries,
/// from a focused question to a long message that wanders.
const BAGS: [(usize, usize); 4] = [(7, 0), (5, 3), (4, 4), (3, 2)];

/// The pseudo-queries of a KB: up to a dozen per entry on a small KB, fewer on a large
/// one, and an even sample of entries when even four each would exceed the budget; one
/// in three held out.
pub fn pseudo_queries(entries: &[KbEntry], budget: usize) -> Vec<CalibrationQuery> {
    let n = entries.len();
    if n == 0 {
        return Vec::new();
    }
    let per_entry = (budget / n).clamp(4, 12);
    let sampled = (budget / per_entry).clamp(1, n);
    let mut out = Vec::new();
    for k in 0..sampled {
        let ord = (k * n / sampled) as u32;
        let entry = &entries[ord as usize];
        let mut rng = Rng::new(&entry.id);
        // In order of how much a customer's words resemble them; each with whether it
        // mixes in another entry's words.
        let mut texts: Vec<(String, bool)> = Vec::new();
        let title = words(&entry.title);
        if title.len() >= 5 {
            let mut kept = title.clone();
            kept.remove(rng.below(kept.len()));
            texts.push((kept.join(" "), false));
        } else if !title.is_empty() {
            texts.push((title.join(" "), false));
        }
        let pool_text = format!(
            "{} {} {} {}",
            entry.title,
            entry.symptoms.join(" "),
            entry.description,
            entry.solution_text()
        );
        let mut pool = content_words(&pool_text);
        pool.sort_unstable();
        pool.dedup();
        let mut bags = Vec::new();
        for (keep, noise) in BAGS {
            if let Some(mut b) = bag(&mut rng, &pool, keep) {
                let mut mixed = false;
                // Words of another entry, as a long message mixes in other matters.
                if n > 1 && noise > 0 {
                    let other = &entries[(ord as usize + 1 + rng.below(n - 1)) % n];
                    let other_text = format!("{} {}", other.title, other.description);
                    if let Some(extra) = bag(&mut rng, &content_words(&other_text), noise) {
                        b = format!("{b} {extra}");
                        mixed = true;
                    }
                }
                bags.push((b, mixed));
            }
        }
        let mut symptoms: Vec<&String> = entry.symptoms.iter().collect();
        while symptoms.len() > 2 {
            symptoms.swap_remove(rng.below(symptoms.len()));
        }
        let body_text = format!("{} {}", entry.description, entry.cause);
        let body = words(&body_text);
        let steps_text = entry.solution_text();
        let steps = words(&steps_text);
        let windows: Vec<(String, bool)> = [
            window(&mut rng, &body, 6, 12),
            window(&mut rng, &body, 5, 9),
            window(&mut rng, &steps, 6, 10),
        ]
        .into_iter()
        .flatten()
        .map(|w| (w, false))
        .collect();
        // Interleave the kinds so a small per-entry share still gets each kind.
        let mut kinds = [
            bags.into_iter(),
            symptoms
                .into_iter()
                .map(|s| (s.clone(), false))
                .collect::<Vec<_>>()
                .into_iter(),
            windows.into_iter(),
        ];
        while texts.len() < per_entry {
            let before = texts.len();
            for kind in kinds.iter_mut() {
                if let Some(t) = kind.next() {
                    texts.push(t);
                }
            }
            if texts.len() == before {
                break;
            }
        }
        texts.truncate(per_entry);
        texts.dedup();
        for (i, (text, mixed)) in texts.into_iter().enumerate() {
            let held_out = (k + i) % 3 == 0 && n > 1;
            out.push(CalibrationQuery {
                text,
                answers: vec![ord],
                exclude: held_out.then_some(ord),
                labelled: false,
                mixed,
                without_confirmed: false,
            });
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(id: &str, title: &str, description: &str) -> KbEntry {
        KbEntry {
            steps: vec!["faire ceci".into()],
            ..KbEntry::sample(id, title, description)
        }
    }

    #[test]
    fn pseudo_queries_are_deterministic_and_hold_some_out() {
        let entries: Vec<KbEntry> = (0..10)
            .map(|i| {
                entry(
                    &format!("e{i}"),
                    &format!("Problème numéro {i} de la machine à café"),
                    "La machine ne chauffe plus l'eau depuis ce matin malgré le voyant allumé",
                )
            })
            .collect();
        let a = pseudo_queries(&entries, 1000);
        assert_eq!(a, pseudo_queries(&entries, 1000));
        assert!(a.len() >= 20);
        let held = a.iter().filter(|q| q.exclude.is_some()).count();
        assert!(
            held * 5 > a.len() && held * 2 < a.len(),
            "{held} of {}",
            a.len()
        );
        assert!(a.iter().all(|q| !q.text.trim().is_empty()));
        // Some bags mix in another entry's words, and say so; titles never do, nor any
        // query made of its own entry's words only.
        assert!(a.iter().any(|q| q.mixed));
        assert!(!a[0].mixed);
        for q in &a {
            let own = &entries[q.answers[0] as usize];
            let own_text = format!(
                "{} {} {} {}",
                own.title,
                own.description,
                own.cause,
                own.solution_text()
            )
            .to_lowercase();
            let all_own = q
                .text
                .split_whitespace()
                .all(|w| own_text.contains(&w.to_lowercase()));
            assert!(q.mixed || all_own, "{q:?}");
        }
        // A budget smaller than four per entry samples entries evenly.
        let small = pseudo_queries(&entries, 8);
        let sources: std::collections::HashSet<u32> = small.iter().map(|q| q.answers[0]).collect();
        assert_eq!(sources.len(), 2);
    }

    #[test]
    fn one_entry_kb_holds_nothing_out() {
        let entries = vec![entry("seul", "Le seul problème connu", "Une description")];
        assert!(pseudo_queries(&entries, 100)
            .iter()
            .all(|q| q.exclude.is_none() && !q.mixed));
    }
}
