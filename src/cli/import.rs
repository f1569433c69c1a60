use std::path::PathBuf;

use crate::error::{Error, Result};
use crate::kb::import::{import_csv, import_jsonl, import_seed};
use crate::kb::Lang;

#[derive(Debug, clap::Subcommand)]
pub enum Command {
    /// The earlier project's seed file (printer_models + knowledge_base).
    Seed {
        file: PathBuf,
        /// KB directory to write into (created if absent).
        #[arg(long)]
        out: PathBuf,
        /// Language of the seed entries.
        #[arg(long, default_value = "fr")]
        lang: String,
    },
    /// JSON Lines, one entry a line: {"id", "title", "text"} required.
    Jsonl {
        file: PathBuf,
        #[arg(long)]
        out: PathBuf,
        /// Sub-directory of entries/ to write into.
        #[arg(long, default_value = "imported")]
        collection: String,
    },
    /// CSV, one entry a row under a header row naming the same fields as JSON Lines
    /// (id, title, text required); `;`, `,` or tab separated; UTF-8 or Windows-1252.
    Csv {
        file: PathBuf,
        #[arg(long)]
        out: PathBuf,
        /// Sub-directory of entries/ to write into.
        #[arg(long, default_value = "imported")]
        collection: String,
    },
}

pub fn run(command: Command) -> Result<()> {
    let report = match command {
        Command::Seed { file, out, lang } => {
            let lang = Lang::parse(&lang)
                .ok_or_else(|| Error::invalid("--lang", format!("`{lang}` is not fr or en")))?;
            import_seed(&file, &out, lang)?
        }
        Command::Jsonl {
            file,
            out,
            collection,
        } => import_jsonl(&file, &out, &collection)?,
        Command::Csv {
            file,
            out,
            collection,
        } => import_csv(&file, &out, &collection)?,
    };
    println!(
        "wrote {} entries ({} new models) into {}",
        report.entries_written,
        report.models_added,
        report.out_dir.display()
    );
    for note in &report.notes {
        println!("note: {note}");
    }
    Ok(())
}
