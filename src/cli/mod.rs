//! Command-line interface: one file per subcommand, all calling the service layer.

mod answer;
mod demo;
mod eval;
mod extract;
mod import;
mod keys;
mod learn;
mod progress;
mod reindex;
mod search;
mod serve;
mod validate;

use std::path::PathBuf;
use std::sync::Arc;

use clap::{Parser, Subcommand};

use crate::config::Config;
use crate::embed::{Embedder, OnnxEmbedder};
use crate::error::{Error, Result};

#[derive(Debug, Parser)]
#[command(
    name = "devicekb",
    version,
    about = "Printer-support knowledge base: search, index, import"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Start the HTTP server.
    Serve(serve::Args),
    /// Search the knowledge base from the terminal.
    Search(search::Args),
    /// Validate the KB files and build a new index generation.
    Reindex(reindex::Args),
    /// Write the answers the desk confirmed (agents' citations, helpful automatic replies)
    /// into the KB's confirmed/answers.jsonl, for the next reindex.
    Learn(learn::Args),
    /// Validate the KB files without indexing.
    Validate(validate::Args),
    /// Import entries from another format into KB files.
    #[command(subcommand)]
    Import(import::Command),
    /// Measure quality on a labelled set: search, extract, answer, classify, transfer.
    #[command(subcommand)]
    Eval(eval::Command),
    /// Answer a customer message: decision, reply and citations (nothing stored).
    Answer(answer::Args),
    /// Find the printer model, error codes and serial number in a text.
    Extract(extract::Args),
    /// Load a small sample set (customers, devices, tickets through the pipeline) into an
    /// empty store.
    Demo(demo::Args),
    /// Print the HTTP API's OpenAPI 3.1 document (what `GET /openapi.json` serves), e.g. to
    /// generate a client with no server running.
    Openapi,
    /// Create, list and revoke API keys.
    #[command(subcommand)]
    Keys(keys::Command),
}

/// Where the KB and the index live; flags override DEVICEKB_KB_DIR / DEVICEKB_DATA_DIR.
#[derive(Debug, Clone, clap::Args)]
pub struct Dirs {
    /// KB directory (entries/ and catalogue/).
    #[arg(long)]
    pub kb: Option<PathBuf>,
    /// Data directory (index generations).
    #[arg(long)]
    pub data: Option<PathBuf>,
}

impl Dirs {
    pub fn config(&self) -> Result<Config> {
        let mut config = Config::from_env()?;
        if let Some(kb) = &self.kb {
            config.kb_dir = kb.clone();
        }
        if let Some(data) = &self.data {
            config.data_dir = data.clone();
        }
        Ok(config)
    }
}

pub fn load_embedder(config: &Config) -> Result<Arc<dyn Embedder>> {
    let embedder = OnnxEmbedder::load_with(
        &config.model_dir,
        &config.ort_dylib,
        config.embed_threads,
        config.query_sessions,
    )?;
    Ok(Arc::new(embedder))
}

/// Prints KB validation problems, one per line, the way compilers do.
pub fn print_error(error: &Error) {
    match error {
        Error::KbInvalid(problems) => {
            for p in problems {
                eprintln!("error: {p}");
            }
            eprintln!("{} problem(s) found; nothing was changed", problems.len());
        }
        other => eprintln!("error: {}", other.chain()),
    }
}

pub async fn run(cli: Cli) -> Result<()> {
    match cli.command {
        Command::Serve(args) => serve::run(args).await,
        Command::Search(args) => search::run(args).await,
        Command::Reindex(args) => reindex::run(args).await,
        Command::Validate(args) => validate::run(args),
        Command::Learn(args) => learn::run(args).await,
        Command::Import(cmd) => import::run(cmd),
        Command::Eval(command) => eval::run(command).await,
        Command::Extract(args) => extract::run(args),
        Command::Answer(args) => answer::run(args).await,
        Command::Keys(command) => keys::run(command).await,
        Command::Demo(args) => demo::run(args).await,
        Command::Openapi => {
            println!("{}", crate::api::openapi_document());
            Ok(())
        }
    }
}
