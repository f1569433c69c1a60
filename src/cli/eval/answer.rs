use std::path::PathBuf;

use crate::answer::eval::{auto_at, choose, curve, load, outcome, point, reasons, Outcome};
use crate::cli::{load_embedder, Dirs};
use crate::error::Result;
use crate::service::{AnswerRequest, Service};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Labelled messages (JSON Lines).
    file: PathBuf,
    #[command(flatten)]
    dirs: Dirs,
    /// Precision the chosen threshold must reach.
    #[arg(long, default_value_t = 0.95)]
    target: f64,
    /// Print every message answered wrongly or escalated against its label.
    #[arg(long)]
    misses: bool,
    #[arg(long)]
    json: bool,
}

pub async fn run(args: Args) -> Result<()> {
    let messages = load(&args.file)?;
    let mut config = args.dirs.config()?;
    let fixed = config.answer_threshold;
    // Every check but the confidence threshold, which the curve sweeps; no LLM.
    config.answer_threshold = Some(0.0);
    config.llm = None;
    let embedder = load_embedder(&config)?;
    let target = config.target_precision;
    let service = Service::start(config, embedder).await?;
    // The threshold the server would use: the fixed one, else the calibration's.
    let configured = service
        .engine
        .generation()
        .calibration
        .served_threshold(fixed, target, service.engine.config().fusion.method)
        .unwrap_or(f32::INFINITY);
    let mut outcomes: Vec<Outcome> = Vec::new();
    for m in &messages {
        let a = service
            .engine
            .answer(AnswerRequest {
                text: m.text.clone(),
                model: None,
            })
            .await?;
        outcomes.push(outcome(m, &a));
    }
    let curve = curve(&outcomes);
    let chosen = choose(&curve, args.target).cloned();
    let at_default = point(&outcomes, configured);
    let reasons = reasons(&outcomes, configured);
    if args.json {
        let report = serde_json::json!({
            "messages": messages.len(), "curve": curve, "chosen": chosen,
            "configured_threshold": configured, "at_configured": at_default,
            "reasons": reasons, "outcomes": outcomes,
        });
        println!(
            "{}",
            serde_json::to_string_pretty(&report).unwrap_or_default()
        );
        return Ok(());
    }
    let covered = outcomes.iter().filter(|o| o.covered).count();
    println!(
        "{} messages from {} ({covered} covered by the KB)",
        messages.len(),
        args.file.display()
    );
    println!(
        "{:>9} {:>5} {:>9} {:>9} {:>14}",
        "threshold", "auto", "precision", "coverage", "covered recall"
    );
    for (i, p) in curve.iter().enumerate() {
        let shown = i % 5 == 0 || chosen.as_ref().is_some_and(|c| c.threshold == p.threshold);
        if !shown {
            continue;
        }
        println!(
            "{:>9.2} {:>5} {:>9.3} {:>9.3} {:>14.3}",
            p.threshold, p.auto, p.precision, p.coverage, p.covered_recall
        );
    }
    match &chosen {
        Some(p) => println!(
            "lowest threshold with precision >= {:.2}: {:.2} (coverage {:.3}, covered recall {:.3})",
            args.target, p.threshold, p.coverage, p.covered_recall
        ),
        None => println!("no threshold reaches precision {:.2}", args.target),
    }
    println!(
        "threshold in use {configured:.2}: precision {:.3} ({} of {} automatic answers right), coverage {:.3}, covered recall {:.3}",
        at_default.precision, at_default.right, at_default.auto, at_default.coverage, at_default.covered_recall
    );
    println!("escalations by reason (count, agreeing with the label):");
    for (reason, (n, agree)) in &reasons {
        println!("  {reason:<20} {n:>4} {agree:>4}");
    }
    if args.misses {
        for o in &outcomes {
            let auto = auto_at(o, configured);
            let wrong_auto = auto && !o.right;
            let missed = !auto && o.expected == "auto";
            if wrong_auto || missed {
                let m = messages.iter().find(|m| m.id == o.id).expect("same set");
                println!(
                    "\n{} {} conf {:.2} cited {:?} reason {:?} (label: {} {:?} {:?})\n  {}\n  {:?}",
                    o.id,
                    if wrong_auto {
                        "WRONG AUTO"
                    } else {
                        "escalated"
                    },
                    o.confidence,
                    o.cited,
                    o.reason,
                    o.expected,
                    o.expected_reason,
                    m.relevant,
                    m.text.replace('\n', " / "),
                    o.notes
                );
            }
        }
    }
    Ok(())
}
