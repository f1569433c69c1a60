//! `devicekb eval extract`: extraction precision and recall per field on labelled messages.

use std::path::PathBuf;

use crate::cli::Dirs;
use crate::error::Result;
use crate::extract::Extractor;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Labelled messages (JSON Lines).
    file: PathBuf,
    #[command(flatten)]
    dirs: Dirs,
    /// Print the full report as JSON.
    #[arg(long)]
    json: bool,
    /// List every message with a wrong field.
    #[arg(long)]
    misses: bool,
}

pub fn run(args: Args) -> Result<()> {
    let messages = crate::extract::eval::load_messages(&args.file)?;
    let config = args.dirs.config()?;
    let extractor = Extractor::from_kb_dir(&config.kb_dir)?;
    let report = crate::extract::eval::evaluate(&extractor, &messages);
    if args.json {
        println!(
            "{}",
            serde_json::to_string_pretty(&report).unwrap_or_default()
        );
        return Ok(());
    }
    println!("{} messages from {}", report.messages, args.file.display());
    println!(
        "{:<13} {:>9} {:>9} {:>5} {:>5} {:>5}",
        "field", "precision", "recall", "tp", "fp", "fn"
    );
    for (name, c) in &report.fields {
        println!(
            "{name:<13} {:>9.3} {:>9.3} {:>5} {:>5} {:>5}",
            c.precision(),
            c.recall(),
            c.tp,
            c.fp,
            c.fn_
        );
    }
    println!(
        "trap messages with a finding: {} of {}",
        report.traps_with_findings, report.traps
    );
    if args.misses {
        for m in &report.misses {
            println!(
                "\n{} [{}] {}",
                m.id,
                m.fields.join(","),
                m.text.replace('\n', " / ")
            );
            println!(
                "  expected {:?} {:?} {:?} {:?}",
                m.expected.model,
                m.expected.manufacturer,
                m.expected.error_codes,
                m.expected.serial
            );
            println!(
                "  got      {:?} {:?} {:?} {:?}",
                m.got.model, m.got.manufacturer, m.got.error_codes, m.got.serial
            );
        }
    }
    Ok(())
}
