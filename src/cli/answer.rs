use std::io::Read;

use super::{load_embedder, Dirs};
use crate::answer::Decision;
use crate::error::{Error, Result};
use crate::service::{AnswerRequest, Service};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The customer's message, or `-` to read it from standard input.
    text: String,
    /// The printer model, when known apart from the text.
    #[arg(long)]
    model: Option<String>,
    #[command(flatten)]
    dirs: Dirs,
    /// Print the full answer as JSON (the shape of `POST /answer`).
    #[arg(long)]
    json: bool,
}

pub async fn run(args: Args) -> Result<()> {
    let text = if args.text == "-" {
        let mut buf = String::new();
        std::io::stdin()
            .read_to_string(&mut buf)
            .map_err(|e| Error::InvalidInput {
                field: "stdin".into(),
                message: format!("cannot read the text: {e}"),
            })?;
        buf
    } else {
        args.text
    };
    let config = args.dirs.config()?;
    let embedder = load_embedder(&config)?;
    let service = Service::start(config, embedder).await?;
    let answer = service
        .engine
        .answer(AnswerRequest {
            text,
            model: args.model,
        })
        .await?;
    if args.json {
        println!(
            "{}",
            serde_json::to_string_pretty(&answer).unwrap_or_default()
        );
        return Ok(());
    }
    match answer.decision {
        Decision::Auto => println!("decision: auto (confidence {:.2})", answer.confidence),
        Decision::Escalate => println!(
            "decision: escalate: {} (confidence {:.2})",
            answer.reason.map_or("-", |r| r.as_str()),
            answer.confidence
        ),
    }
    for note in &answer.notes {
        println!("  {note}");
    }
    if let Some(reply) = answer.reply.as_ref().or(answer.draft.as_ref()) {
        let label = if answer.reply.is_some() {
            "reply"
        } else {
            "draft for the agent"
        };
        println!("\n--- {label} ---\n{reply}");
    }
    Ok(())
}
