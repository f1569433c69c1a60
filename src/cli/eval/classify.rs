use std::path::PathBuf;

use crate::cli::{load_embedder, Dirs};
use crate::error::{Error, Result};
use crate::kb::training::parse_training;
use crate::service::Service;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Labelled tickets (JSON Lines); default: the KB's training/tickets.jsonl.
    file: Option<PathBuf>,
    #[command(flatten)]
    dirs: Dirs,
    /// Cross-validation folds.
    #[arg(long, default_value_t = 5)]
    folds: usize,
    /// FILE holds tickets written apart from the KB's labelled set: predict them with the
    /// classifier trained on that whole set, as live tickets are (no cross-validation).
    #[arg(long, requires = "file", conflicts_with = "folds")]
    held_out: bool,
    /// Also print every wrong prediction (ticket, task, label, prediction).
    #[arg(long)]
    misses: bool,
    #[arg(long)]
    json: bool,
}

pub async fn run(args: Args) -> Result<()> {
    let mut config = args.dirs.config()?;
    config.llm = None;
    let file = args
        .file
        .clone()
        .unwrap_or_else(|| config.kb_dir.join(crate::kb::training::TRAINING_FILE));
    let text = std::fs::read_to_string(&file)
        .map_err(|e| Error::io(format!("reading {}", file.display()), e))?;
    let tickets = parse_training(&text, &file.display().to_string()).map_err(Error::KbInvalid)?;
    if !args.held_out && (args.folds < 2 || args.folds > tickets.len()) {
        return Err(Error::invalid(
            "folds",
            format!(
                "must be between 2 and the number of tickets ({})",
                tickets.len()
            ),
        ));
    }
    let embedder = load_embedder(&config)?;
    let service = Service::start(config, embedder).await?;
    let report = if args.held_out {
        service.engine.eval_classify_held_out(tickets).await?
    } else {
        service.engine.eval_classify(tickets, args.folds).await?
    };
    if args.json {
        println!(
            "{}",
            serde_json::to_string_pretty(&report).unwrap_or_default()
        );
    } else {
        print!("{report}");
        if args.misses {
            println!("\nwrong predictions (ticket, task: labelled -> predicted):");
            for m in &report.misses {
                println!(
                    "  {} {}: {} -> {}",
                    m.id,
                    m.task.as_str(),
                    m.labelled,
                    m.predicted
                );
            }
        }
    }
    Ok(())
}
