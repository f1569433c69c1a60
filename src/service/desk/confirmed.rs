//! What the desk confirmed: each ticket whose reply named the KB entries that answered
//! it, as a line of the KB's `confirmed/answers.jsonl` (see `kb::confirmed`), which the
//! next reindex searches as its customers' own words.

use std::collections::BTreeMap;
use std::path::Path;

use serde::Serialize;

use crate::durable::replace_file_synced;
use crate::error::{Error, Result};
use crate::kb::confirmed::{
    merge_with_desk, parse_confirmed, to_jsonl, ConfirmedAnswer, ConfirmedBy, CONFIRMED_FILE,
};
use crate::kb::lock::KbLock;
use crate::kb::training::ticket_text;
use crate::service::engine::blocking;
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
    /// Tickets whose automatic reply the customer found unhelpful (its entries are the
    /// line's `not_answered_by`; an agent may have cited others since).
    pub unhelpful: usize,
    /// Confirming replies left out: no entry cited, or no text from the customer.
    pub skipped: usize,
}

/// One answer per ticket: the entries its confirming replies cited (an agent's citations
/// win over an automatic reply's) and those of an automatic reply the customer found
/// unhelpful, with the ticket's first customer message.
pub async fn confirmed_answers(
    store: &dyn Store,
) -> Result<(Vec<ConfirmedAnswer>, ConfirmedCounts)> {
    let replies = store.confirmed_replies(MAX_CONFIRMED_REPLIES).await?;
    Ok(answers_of(replies))
}

/// What an export wrote (`devicekb learn`, `POST /admin/learn`).
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct LearnReport {
    /// The KB's file of confirmed answers.
    pub file: String,
    /// Lines the file holds after the export (or would, on a dry run).
    pub answers: usize,
    /// Of which tickets an agent's reply cited entries for.
    pub by_agents: usize,
    /// Of which automatic replies the customer found helpful (no agent cited).
    pub by_customers: usize,
    /// Of which lines an editor wrote, kept as they were.
    pub by_editors: usize,
    /// Tickets whose automatic reply the customer found unhelpful: the next message worded
    /// like theirs is not answered automatically with the same entries.
    pub unhelpful: usize,
    /// Confirming replies left out: no entry cited, or no text from the customer.
    pub skipped: usize,
    /// `false` on a dry run: nothing was written.
    pub written: bool,
    /// On a dry run, why the export itself would fail: the KB folder is not writable by
    /// the server (the counts above still say what it would write).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub not_writable: Option<String>,
}

/// Writes what the desk confirmed into `kb_dir`'s `confirmed/answers.jsonl`, keeping the
/// lines an editor wrote; the next reindex searches them. The desk's replies are read
/// first, then the file is read, merged and replaced in one step, so an editor's save in
/// between is not lost. A line of the file that does not parse stops the export (an
/// editor's line would otherwise be lost). The file is replaced whole, so a reindex
/// reading it meanwhile sees the old lines or the new.
pub async fn learn(store: &dyn Store, kb_dir: &Path, dry_run: bool) -> Result<LearnReport> {
    let (from_desk, counts) = confirmed_answers(store).await?;
    let kb_dir = kb_dir.to_path_buf();
    blocking(move || export(&kb_dir, from_desk, counts, dry_run)).await
}

fn export(
    kb_dir: &Path,
    from_desk: Vec<ConfirmedAnswer>,
    counts: ConfirmedCounts,
    dry_run: bool,
) -> Result<LearnReport> {
    if !kb_dir.is_dir() {
        return Err(Error::Config(format!(
            "the KB directory {} does not exist",
            kb_dir.display()
        )));
    }
    // From reading the file to writing it back: an editor's `devicekb learn` beside the
    // server's, or an import, never writes what this one did not read. A dry run reads only.
    let _lock = if dry_run {
        KbLock::read(kb_dir)?
    } else {
        KbLock::write(kb_dir, "learn")?
    };
    let path = kb_dir.join(CONFIRMED_FILE);
    let merged = merge_with_desk(read_existing(&path)?, from_desk);
    let report = LearnReport {
        file: path.display().to_string(),
        answers: merged.len(),
        by_agents: counts.by_agents,
        by_customers: counts.by_customers,
        by_editors: merged
            .iter()
            .filter(|a| a.confirmed_by == ConfirmedBy::Editor)
            .count(),
        unhelpful: counts.unhelpful,
        skipped: counts.skipped,
        written: !dry_run,
        not_writable: None,
    };
    if dry_run {
        // The counts are what a dry run is for: a folder the export may not write is
        // said beside them, not instead of them.
        return match probe_writable(&path).map_err(|e| not_writable(kb_dir, e)) {
            Ok(()) => Ok(report),
            Err(Error::Conflict(why)) => Ok(LearnReport {
                not_writable: Some(why),
                ..report
            }),
            Err(e) => Err(e),
        };
    }
    write(&path, &merged).map_err(|e| not_writable(kb_dir, e))?;
    Ok(report)
}

/// A dry run says what the export would meet: a folder it may not write. Probed with a
/// temporary file (removed at once) where the export would write, the file's folder or,
/// before it exists, the KB folder; permissions bits alone would miss a read-only mount
/// or an ACL.
fn probe_writable(path: &Path) -> Result<()> {
    let folder = path
        .parent()
        .ok_or_else(|| Error::Internal(format!("{} has no folder", path.display())))?;
    let dir = match folder.parent() {
        Some(kb_dir) if !folder.exists() => kb_dir,
        _ => folder,
    };
    tempfile::Builder::new()
        .prefix(".devicekb-probe")
        .tempfile_in(dir)
        .map(drop)
        .map_err(|e| Error::io(format!("creating a file in {}", dir.display()), e))
}

/// A KB folder the server may not write (mounted read-only, owned by another user) is the
/// deployment's choice, not a fault: said plainly, with what to do.
fn not_writable(kb_dir: &Path, e: Error) -> Error {
    use std::io::ErrorKind::{PermissionDenied, ReadOnlyFilesystem};
    match &e {
        Error::Io { source, .. } if matches!(source.kind(), PermissionDenied | ReadOnlyFilesystem) => {
            Error::Conflict(format!(
                "the KB folder {} is not writable by the server ({source}): mount it read-write, or run `devicekb learn` where the KB's files are edited",
                kb_dir.display()
            ))
        }
        _ => e,
    }
}

fn read_existing(path: &Path) -> Result<Vec<ConfirmedAnswer>> {
    match std::fs::read_to_string(path) {
        Ok(text) => parse_confirmed(&text, &path.display().to_string()).map_err(Error::KbInvalid),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Vec::new()),
        Err(e) => Err(Error::io(format!("reading {}", path.display()), e)),
    }
}

fn write(path: &Path, answers: &[ConfirmedAnswer]) -> Result<()> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)
            .map_err(|e| Error::io(format!("creating {}", dir.display()), e))?;
    }
    replace_file_synced(path, to_jsonl(answers).as_bytes())
}

/// What one ticket's replies say: the entries an agent cited, those of automatic replies
/// the customer found helpful, and those of automatic replies found unhelpful.
#[derive(Default)]
struct TicketReplies {
    text: String,
    by_agent: Vec<String>,
    helpful: Vec<String>,
    unhelpful: Vec<String>,
    /// The version of each unhelpful entry the customer read, where the retrieval kept it.
    unhelpful_versions: BTreeMap<String, String>,
}

fn push_new(into: &mut Vec<String>, ids: Vec<String>) {
    for id in ids {
        if !into.contains(&id) {
            into.push(id);
        }
    }
}

/// The version of each entry the ticket's retrieval found (its stored results), by id:
/// the version of what the reply showed of it, else (results stored before that was kept)
/// the version of the whole entry; results stored before either was kept have none.
fn retrieved_versions(retrieved: &serde_json::Value) -> BTreeMap<String, String> {
    let field = |hit: &serde_json::Value, name: &str| {
        hit.get(name)
            .and_then(|v| v.as_str())
            .filter(|v| !v.is_empty())
            .map(str::to_string)
    };
    retrieved
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|hit| {
            let id = hit.get("kb_id")?.as_str()?;
            let version = field(hit, "reply_version").or_else(|| field(hit, "content_hash"))?;
            Some((id.to_string(), version))
        })
        .collect()
}

fn answers_of(replies: Vec<ConfirmedReply>) -> (Vec<ConfirmedAnswer>, ConfirmedCounts) {
    let mut counts = ConfirmedCounts::default();
    let mut by_ticket: BTreeMap<i64, TicketReplies> = BTreeMap::new();
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
        let seen = by_ticket.entry(reply.ticket_id).or_default();
        seen.text = text;
        match (reply.responder, reply.helpful) {
            (ResponderKind::Agent, _) => push_new(&mut seen.by_agent, entries),
            (ResponderKind::Auto, Some(0)) => {
                let versions = retrieved_versions(&reply.retrieved);
                for id in &entries {
                    if let Some(version) = versions.get(id) {
                        seen.unhelpful_versions.insert(id.clone(), version.clone());
                    }
                }
                push_new(&mut seen.unhelpful, entries)
            }
            (ResponderKind::Auto, _) => push_new(&mut seen.helpful, entries),
        }
    }
    let mut answers = Vec::with_capacity(by_ticket.len());
    for (ticket_id, seen) in by_ticket {
        // An agent's citations win over what automatic replies cited; an entry the
        // customer found unhelpful stays so unless an agent cited it after all.
        let (entries, confirmed_by) = if seen.by_agent.is_empty() {
            (seen.helpful, ConfirmedBy::Customer)
        } else {
            (seen.by_agent, ConfirmedBy::Agent)
        };
        let not_answered_by: Vec<String> = seen
            .unhelpful
            .into_iter()
            .filter(|id| !entries.contains(id))
            .collect();
        let mut not_answered_by_versions = seen.unhelpful_versions;
        not_answered_by_versions.retain(|id, _| not_answered_by.contains(id));
        match confirmed_by {
            ConfirmedBy::Agent => counts.by_agents += 1,
            _ if !entries.is_empty() => counts.by_customers += 1,
            _ => {}
        }
        if !not_answered_by.is_empty() {
            counts.unhelpful += 1;
        }
        answers.push(ConfirmedAnswer {
            text: seen.text,
            entries,
            not_answered_by,
            not_answered_by_versions,
            confirmed_by,
            ticket_id: Some(ticket_id),
        });
    }
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
            helpful: (responder == ResponderKind::Auto).then_some(1),
            retrieved: serde_json::json!([]),
            subject: Some("Bourrage".into()),
            body: "le papier reste coincé".into(),
            transcription: None,
        }
    }

    fn unhelpful(ticket_id: i64, citations: &[&str]) -> ConfirmedReply {
        ConfirmedReply {
            helpful: Some(0),
            ..reply(ticket_id, ResponderKind::Auto, citations)
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
        assert!(answers.iter().all(|a| a.not_answered_by.is_empty()));
        assert_eq!(
            counts,
            ConfirmedCounts {
                by_agents: 2,
                by_customers: 1,
                unhelpful: 0,
                skipped: 1
            }
        );
    }

    #[test]
    fn an_unhelpful_automatic_reply_names_what_did_not_answer() {
        let (answers, counts) = answers_of(vec![
            // Found unhelpful, then an agent answered with another entry.
            unhelpful(1, &["bac-vide"]),
            reply(1, ResponderKind::Agent, &["chainage-bacs"]),
            // Found unhelpful, nobody cited anything since.
            unhelpful(2, &["pilote"]),
            // Found unhelpful, yet the agent cited the same entry: it did answer.
            unhelpful(3, &["toner"]),
            reply(3, ResponderKind::Agent, &["toner"]),
        ]);
        assert_eq!(answers.len(), 3);
        assert_eq!(answers[0].entries, ["chainage-bacs"]);
        assert_eq!(answers[0].not_answered_by, ["bac-vide"]);
        assert!(answers[1].entries.is_empty());
        assert_eq!(answers[1].not_answered_by, ["pilote"]);
        assert_eq!(answers[1].confirmed_by, ConfirmedBy::Customer);
        assert!(answers[2].not_answered_by.is_empty());
        assert!(answers
            .iter()
            .all(|a| a.not_answered_by_versions.is_empty()));
        assert_eq!(
            counts,
            ConfirmedCounts {
                by_agents: 2,
                by_customers: 0,
                unhelpful: 2,
                skipped: 0
            }
        );
    }

    #[test]
    fn an_unhelpful_mark_keeps_the_version_of_the_entry_the_customer_read() {
        let retrieved = serde_json::json!([
            {"kb_id": "pilote", "relevance": 0.9, "content_hash": "v1-pilote"},
            {"kb_id": "bac-vide", "relevance": 0.4, "content_hash": "v1-bac", "reply_version": "r1-bac"},
            {"kb_id": "toner", "relevance": 0.3},
        ]);
        let mark = |ticket_id, citations: &[&str]| ConfirmedReply {
            retrieved: retrieved.clone(),
            ..unhelpful(ticket_id, citations)
        };
        let (answers, _) = answers_of(vec![
            mark(1, &["pilote"]),
            // A version stored for one entry only (older results): the other holds as is.
            mark(2, &["pilote", "toner"]),
            // The agent cited one of the marked entries after all: no version kept for it.
            mark(3, &["pilote", "bac-vide"]),
            reply(3, ResponderKind::Agent, &["bac-vide"]),
            // Results that kept what the reply showed: that version, not the entry's.
            mark(4, &["bac-vide"]),
        ]);
        let versions = |i: usize| -> Vec<(&str, &str)> {
            answers[i]
                .not_answered_by_versions
                .iter()
                .map(|(id, v)| (id.as_str(), v.as_str()))
                .collect()
        };
        assert_eq!(versions(0), [("pilote", "v1-pilote")]);
        assert_eq!(answers[1].not_answered_by, ["pilote", "toner"]);
        assert_eq!(versions(1), [("pilote", "v1-pilote")]);
        assert_eq!(answers[2].not_answered_by, ["pilote"]);
        assert_eq!(versions(2), [("pilote", "v1-pilote")]);
        assert_eq!(versions(3), [("bac-vide", "r1-bac")]);
        for answer in &answers {
            let line = crate::kb::confirmed::to_jsonl(std::slice::from_ref(answer));
            assert_eq!(&parse_confirmed(&line, "f").unwrap()[0], answer);
        }
    }

    #[test]
    fn a_dry_run_leaves_the_folder_as_it_was_and_meets_what_the_export_would() {
        let kb = tempfile::tempdir().unwrap();
        let answer = ConfirmedAnswer {
            text: "le papier reste coincé".into(),
            entries: vec!["jam".into()],
            not_answered_by: Vec::new(),
            not_answered_by_versions: BTreeMap::new(),
            confirmed_by: ConfirmedBy::Agent,
            ticket_id: Some(1),
        };
        let counts = || ConfirmedCounts {
            by_agents: 1,
            ..ConfirmedCounts::default()
        };
        let report = export(kb.path(), vec![answer.clone()], counts(), true).unwrap();
        assert_eq!((report.answers, report.written), (1, false));
        assert_eq!(report.not_writable, None);
        let left: Vec<_> = std::fs::read_dir(kb.path()).unwrap().collect();
        assert!(left.is_empty(), "{left:?}");

        // A folder its user may not write: the dry run counts and says why the export
        // would fail, which it does (root writes anyway: there, both succeed and this part
        // shows nothing).
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(kb.path(), std::fs::Permissions::from_mode(0o555)).unwrap();
        let writable = tempfile::tempfile_in(kb.path()).is_ok();
        let dry = export(kb.path(), vec![answer.clone()], counts(), true);
        let real = export(kb.path(), vec![answer], counts(), false);
        std::fs::set_permissions(kb.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
        if !writable {
            let dry = dry.unwrap();
            assert_eq!(dry.answers, 1);
            assert!(
                dry.not_writable
                    .as_deref()
                    .is_some_and(|m| m.contains("is not writable")),
                "{dry:?}"
            );
            assert!(
                matches!(&real, Err(Error::Conflict(m)) if m.contains("is not writable")),
                "{real:?}"
            );
        }
    }

    #[test]
    fn a_kb_folder_the_server_may_not_write_is_said_plainly() {
        let dir = Path::new("/srv/kb");
        for kind in [
            std::io::ErrorKind::PermissionDenied,
            std::io::ErrorKind::ReadOnlyFilesystem,
        ] {
            let e = not_writable(dir, Error::io("replacing x", std::io::Error::from(kind)));
            assert!(
                matches!(&e, Error::Conflict(m) if m.contains("/srv/kb is not writable")),
                "{e:?}"
            );
        }
        let other = not_writable(
            dir,
            Error::io("x", std::io::Error::from(std::io::ErrorKind::StorageFull)),
        );
        assert!(matches!(other, Error::Io { .. }));
    }
}
