//! `devicekb learn`: writes the answers the desk confirmed (agents' replies citing KB
//! entries, automatic replies customers found helpful) into the KB's
//! `confirmed/answers.jsonl`, which the next `devicekb reindex` searches as its
//! customers' own words and calibrates on. Lines an editor wrote stay as they are.

use std::path::Path;

use super::Dirs;
use crate::error::{Error, Result};
use crate::index::durable::replace_file_synced;
use crate::kb::confirmed::{merge_with_desk, parse_confirmed, to_jsonl, CONFIRMED_FILE};
use crate::service::desk::confirmed::confirmed_answers;

#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(flatten)]
    dirs: Dirs,
    /// Print what would be written, write nothing.
    #[arg(long)]
    dry_run: bool,
}

pub async fn run(args: Args) -> Result<()> {
    let config = args.dirs.config()?;
    if !config.kb_dir.is_dir() {
        return Err(Error::Config(format!(
            "the KB directory {} does not exist",
            config.kb_dir.display()
        )));
    }
    let path = config.kb_dir.join(CONFIRMED_FILE);
    let existing = read_existing(&path)?;
    let store = crate::service::desk::open_store(&config).await?;
    let (from_desk, counts) = confirmed_answers(store.as_ref()).await?;
    let merged = merge_with_desk(existing, from_desk);
    let editors_kept = merged.len() - counts.by_agents - counts.by_customers;
    println!(
        "{}: {} confirmed answers ({} cited by agents, {} automatic replies found helpful, {} written by editors); {} confirming replies skipped (no entry cited, or no customer text)",
        path.display(),
        merged.len(),
        counts.by_agents,
        counts.by_customers,
        editors_kept,
        counts.skipped,
    );
    if args.dry_run {
        println!("dry run: nothing written");
        return Ok(());
    }
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)
            .map_err(|e| Error::io(format!("creating {}", dir.display()), e))?;
    }
    replace_file_synced(&path, to_jsonl(&merged).as_bytes())?;
    println!("run `devicekb reindex` for searches to use them");
    Ok(())
}

/// The file as it stands; a line that does not parse stops the export (an editor's line
/// would otherwise be lost).
fn read_existing(path: &Path) -> Result<Vec<crate::kb::confirmed::ConfirmedAnswer>> {
    match std::fs::read_to_string(path) {
        Ok(text) => parse_confirmed(&text, &path.display().to_string()).map_err(Error::KbInvalid),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Vec::new()),
        Err(e) => Err(Error::io(format!("reading {}", path.display()), e)),
    }
}
