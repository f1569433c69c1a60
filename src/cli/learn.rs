//! `devicekb learn`: writes the answers the desk confirmed (agents' replies citing KB
//! entries, automatic replies customers found helpful) into the KB's
//! `confirmed/answers.jsonl`, which the next `devicekb reindex` searches as its
//! customers' own words and calibrates on. Lines an editor wrote stay as they are.
//! `POST /admin/learn` does the same on a running server.

use super::Dirs;
use crate::error::Result;
use crate::service::desk::confirmed::learn;

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
    let store = crate::service::desk::open_store(&config).await?;
    let report = learn(store.as_ref(), &config.kb_dir, args.dry_run).await?;
    println!(
        "{}: {} lines (of which {} cited by agents, {} automatic replies found helpful, {} written by editors; {} automatic replies found unhelpful); {} confirming replies skipped (no entry cited, or no customer text)",
        report.file,
        report.answers,
        report.by_agents,
        report.by_customers,
        report.by_editors,
        report.unhelpful,
        report.skipped,
    );
    if report.written {
        println!("run `devicekb reindex` for searches to use them");
    } else {
        println!("dry run: nothing written");
    }
    if let Some(why) = &report.not_writable {
        println!("the export would fail: {why}");
    }
    Ok(())
}
