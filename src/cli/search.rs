use std::sync::Arc;

use super::{load_embedder, Dirs};
use crate::error::{Error, Result};
use crate::service::{SearchMode, SearchRequest, Service};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// What to look for.
    query: String,
    #[command(flatten)]
    dirs: Dirs,
    /// Restrict to one printer model (plus generic entries).
    #[arg(long)]
    model: Option<String>,
    /// bm25, vector or hybrid.
    #[arg(long, default_value = "hybrid")]
    mode: String,
    #[arg(long, default_value_t = 5)]
    limit: i64,
    /// Print the API's JSON answer.
    #[arg(long)]
    json: bool,
}

pub async fn run(args: Args) -> Result<()> {
    let mode = SearchMode::parse(&args.mode).ok_or_else(|| {
        Error::invalid(
            "--mode",
            format!("`{}` is not bm25, vector or hybrid", args.mode),
        )
    })?;
    let config = args.dirs.config()?;
    let embedder = load_embedder(&config)?;
    let service: Arc<Service> = Service::start(config, embedder).await?;
    let response = service
        .engine
        .search(SearchRequest {
            query: args.query,
            model_filter: args.model,
            limit: Some(args.limit),
            mode: Some(mode),
        })
        .await?;
    if args.json {
        println!(
            "{}",
            serde_json::to_string_pretty(&response).unwrap_or_default()
        );
        return Ok(());
    }
    if response.results.is_empty() {
        println!("no result");
    }
    for (i, r) in response.results.iter().enumerate() {
        println!(
            "{}. [{:.2}] {}  ({})",
            i + 1,
            r.relevance,
            r.problem_title,
            r.kb_id
        );
        if let Some(model) = &r.model_name {
            println!("   {model}");
        }
        for (n, step) in r.solution_steps.iter().enumerate().take(3) {
            println!("   {}. {step}", n + 1);
        }
    }
    Ok(())
}
