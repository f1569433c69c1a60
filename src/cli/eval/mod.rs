//! `devicekb eval …`: every quality measure, one subcommand each, each reading a JSON
//! Lines set through the same loader and printing its report (or `--json`).

mod answer;
mod classify;
mod extract;
mod search;
mod transfer;

use clap::Subcommand;

use crate::error::Result;

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Retrieval quality per mode on labelled queries (recall@k, MRR, nDCG; `--calibrate`).
    Search(search::Args),
    /// Extraction precision and recall per field on labelled messages.
    Extract(extract::Args),
    /// The auto-answer decision on labelled messages (precision/coverage curve).
    Answer(answer::Args),
    /// The ticket classifier (category, priority, churn) by cross-validation.
    Classify(classify::Args),
    /// Search, automatic answers and classification on tickets written for a KB the
    /// product was never tuned on.
    Transfer(transfer::Args),
}

pub async fn run(command: Command) -> Result<()> {
    match command {
        Command::Search(args) => search::run(args).await,
        Command::Extract(args) => extract::run(args),
        Command::Answer(args) => answer::run(args).await,
        Command::Classify(args) => classify::run(args).await,
        Command::Transfer(args) => transfer::run(args).await,
    }
}
