use std::path::PathBuf;

use crate::error::{Error, Result};
use crate::kb::import::{import_jsonl, import_seed};
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
    };
    println!(
        "wrote {} entries ({} new models) into {}",
        report.entries_written,
        report.models_added,
        report.out_dir.display()
    );
    if let Some(note) = &report.languages_note {
        println!("note: {note}");
    }
    Ok(())
}
