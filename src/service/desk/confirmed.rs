//! What the desk confirmed: each ticket whose reply named the KB entries that answered
//! it, as a line of the KB's `confirmed/answers.jsonl` (see `kb::confirmed`), which the
//! next reindex searches as its customers' own words.

use std::collections::BTreeMap;

use crate::error::Result;
use crate::kb::confirmed::{ConfirmedAnswer, ConfirmedBy};
use crate::kb::training::ticket_text;
use crate::store::{ConfirmedReply, ResponderKind, Store};

/// Most replies read per export: far more than a KB needs (the calibration searches at
/// most a few hundred), bounded so an old desk's export stays small.
pub const MAX_CONFIRMED_REPLIES: u32 = 20_000;

/// What an export found.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct ConfirmedCounts {
    /// Tickets an agent's reply cited entries for.
    pub by_agents: usize,
    /// Tickets whose automatic reply the customer found helpful (and no agent cited).
    pub by_customers: usize,
    /// Confirming replies left out: no entry cited, or no text from the customer.
    pub skipped: usize,
}

/// One answer per ticket: the entries its confirming replies cited (an agent's citations
/// win over an automatic reply's), with the ticket's first customer message.
pub async fn confirmed_answers(
    store: &dyn Store,
) -> Result<(Vec<ConfirmedAnswer>, ConfirmedCounts)> {
    let replies = store.confirmed_replies(MAX_CONFIRMED_REPLIES).await?;
    Ok(answers_of(replies))
}

fn answers_of(replies: Vec<ConfirmedReply>) -> (Vec<ConfirmedAnswer>, ConfirmedCounts) {
    let mut counts = ConfirmedCounts::default();
    let mut by_ticket: BTreeMap<i64, ConfirmedAnswer> = BTreeMap::new();
    for reply in replies {
        let entries: Vec<String> = reply
            .citations
            .as_array()
            .map(|ids| {
                ids.iter()
                    .filter_map(|id| id.as_str())
                    .map(str::trim)
                    .filter(|id| !id.is_empty())
                    .map(str::to_string)
                    .collect()
            })
            .unwrap_or_default();
        let body = if reply.body.trim().is_empty() {
            reply.transcription.as_deref().unwrap_or_default()
        } else {
            reply.body.as_str()
        };
        let text = ticket_text(reply.subject.as_deref().unwrap_or_default(), body);
        if entries.is_empty() || text.is_empty() {
            counts.skipped += 1;
            continue;
        }
        let by = match reply.responder {
            ResponderKind::Agent => ConfirmedBy::Agent,
            ResponderKind::Auto => ConfirmedBy::Customer,
        };
        match by_ticket.get_mut(&reply.ticket_id) {
            // An agent's later citations replace an automatic reply's.
            Some(seen) if by == ConfirmedBy::Agent && seen.confirmed_by != ConfirmedBy::Agent => {
                seen.entries = entries;
                seen.confirmed_by = by;
            }
            Some(seen) if by == seen.confirmed_by => {
                for id in entries {
                    if !seen.entries.contains(&id) {
                        seen.entries.push(id);
                    }
                }
            }
            Some(_) => {}
            None => {
                by_ticket.insert(
                    reply.ticket_id,
                    ConfirmedAnswer {
                        text,
                        entries,
                        confirmed_by: by,
                        ticket_id: Some(reply.ticket_id),
                    },
                );
            }
        }
    }
    let answers: Vec<ConfirmedAnswer> = by_ticket.into_values().collect();
    counts.by_agents = answers
        .iter()
        .filter(|a| a.confirmed_by == ConfirmedBy::Agent)
        .count();
    counts.by_customers = answers.len() - counts.by_agents;
    (answers, counts)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reply(ticket_id: i64, responder: ResponderKind, citations: &[&str]) -> ConfirmedReply {
        ConfirmedReply {
            ticket_id,
            response_id: 0,
            responder,
            citations: serde_json::json!(citations),
            subject: Some("Bourrage".into()),
            body: "le papier reste coincé".into(),
            transcription: None,
        }
    }

    #[test]
    fn one_answer_per_ticket_and_agents_win() {
        let (answers, counts) = answers_of(vec![
            reply(1, ResponderKind::Auto, &["jam"]),
            reply(1, ResponderKind::Agent, &["jam-tray-2"]),
            reply(2, ResponderKind::Auto, &["toner"]),
            reply(3, ResponderKind::Agent, &[]),
            reply(4, ResponderKind::Agent, &["a"]),
            reply(4, ResponderKind::Agent, &["b", "a"]),
        ]);
        assert_eq!(answers.len(), 3);
        assert_eq!(answers[0].entries, ["jam-tray-2"]);
        assert_eq!(answers[0].confirmed_by, ConfirmedBy::Agent);
        assert_eq!(answers[0].text, "Bourrage\nle papier reste coincé");
        assert_eq!(answers[1].confirmed_by, ConfirmedBy::Customer);
        assert_eq!(answers[2].entries, ["a", "b"]);
        assert_eq!(
            counts,
            ConfirmedCounts {
                by_agents: 2,
                by_customers: 1,
                skipped: 1
            }
        );
    }
}
