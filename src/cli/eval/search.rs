use std::path::PathBuf;

use crate::cli::{load_embedder, Dirs};
use crate::error::Result;
use crate::index::calibrate::{KB_MODEL_FILE, MIN_HITS_EACH};
use crate::index::calibration::{StoredModel, FEATURES_VERSION};
use crate::index::fusion::FEATURE_NAMES;
use crate::service::eval::{evaluate, fit_relevance, load_queries, reliability, Metrics};
use crate::service::{SearchMode, Service};

/// Fewest labelled queries `--calibrate` fits a model on.
const MIN_CALIBRATION_QUERIES: usize = 20;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Labelled queries (JSON Lines).
    file: PathBuf,
    #[command(flatten)]
    dirs: Dirs,
    /// Print the full report as JSON.
    #[arg(long)]
    json: bool,
    /// Also fit the relevance model on this set and write it to the KB's
    /// eval/calibration.json, where the next reindex reads it.
    #[arg(long)]
    calibrate: bool,
}

fn row(name: &str, m: &Metrics) -> String {
    format!(
        "{name:<10} {:>8.3} {:>8.3} {:>8.3} {:>8.3} {:>8.3}",
        m.recall_at_1, m.recall_at_3, m.recall_at_10, m.mrr_at_10, m.ndcg_at_10
    )
}

pub async fn run(args: Args) -> Result<()> {
    let queries = load_queries(&args.file)?;
    let config = args.dirs.config()?;
    let embedder = load_embedder(&config)?;
    let service = Service::start(config, embedder).await?;
    let mut reports = Vec::new();
    let mut samples = Vec::new();
    for mode in [SearchMode::Bm25, SearchMode::Vector, SearchMode::Hybrid] {
        let s = service.engine.clone();
        let q = queries.clone();
        let (report, mode_samples) = tokio::task::spawn_blocking(move || evaluate(&s, &q, mode))
            .await
            .map_err(|e| crate::error::Error::Internal(e.to_string()))??;
        if mode == SearchMode::Hybrid {
            samples = mode_samples;
        }
        reports.push(report);
    }
    if args.json {
        println!(
            "{}",
            serde_json::to_string_pretty(&reports).unwrap_or_default()
        );
    } else {
        println!("{} queries from {}", queries.len(), args.file.display());
        println!(
            "{:<10} {:>8} {:>8} {:>8} {:>8} {:>8}",
            "mode", "R@1", "R@3", "R@10", "MRR@10", "nDCG@10"
        );
        for r in &reports {
            println!(
                "{}",
                row(&format!("{:?}", r.mode).to_lowercase(), &r.overall)
            );
        }
        let kinds: Vec<String> = reports[0].by_kind.keys().cloned().collect();
        for kind in kinds {
            println!("\n{kind} ({} queries)", reports[0].by_kind[&kind].queries);
            for r in &reports {
                println!(
                    "{}",
                    row(&format!("  {:?}", r.mode).to_lowercase(), &r.by_kind[&kind])
                );
            }
        }
        let hybrid = &reports[2];
        if !hybrid.misses.is_empty() {
            println!(
                "\nhybrid misses (no right entry in the top 10): {}",
                hybrid.misses.join(", ")
            );
        }
    }
    let generation = service.engine.generation();
    let current = generation.calibration.model;
    let (table, ece) = reliability(&current, &samples);
    println!(
        "\nrelevance calibration of {} ({:?}, hybrid top 10): expected calibration error {ece:.3}",
        generation.name, generation.calibration.source
    );
    for (mean, rate, count) in &table {
        println!("  predicted {mean:.2}  observed {rate:.2}  ({count} hits)");
    }
    if args.calibrate {
        // As few as the reindex's own fit needs (`calibrate`), and enough queries that a
        // handful of lucky ones cannot stand for the KB.
        let right = samples.iter().filter(|(_, y)| *y).count();
        let wrong = samples.len() - right;
        if queries.len() < MIN_CALIBRATION_QUERIES || right < MIN_HITS_EACH || wrong < MIN_HITS_EACH
        {
            return Err(crate::error::Error::invalid(
                "--calibrate",
                format!(
                    "too few labelled queries to fit a relevance model: {} queries, {right} right and {wrong} wrong hits (at least {MIN_CALIBRATION_QUERIES} queries and {MIN_HITS_EACH} of each); nothing was written, the reindex keeps fitting its own",
                    queries.len()
                ),
            ));
        }
        // The samples' scores were normalised with the generation's scales: keep them.
        let fitted = fit_relevance(&samples).with_scales_of(&current);
        let (_, fitted_ece) = reliability(&fitted, &samples);
        let weights: Vec<String> = FEATURE_NAMES
            .iter()
            .zip(fitted.weights)
            .map(|(name, w)| format!("{name} {w:.3}"))
            .collect();
        println!(
            "\nfitted on this set: bias {:.3}, {}; calibration error {fitted_ece:.3}",
            fitted.bias,
            weights.join(", ")
        );
        let kb_dir = service.engine.config().kb_dir.clone();
        let path = kb_dir.join(KB_MODEL_FILE);
        let stored = StoredModel {
            features_version: FEATURES_VERSION,
            fusion: service.engine.config().fusion.method,
            model: fitted,
            fitted_on: args.file.display().to_string(),
            samples: samples.len(),
        };
        let text = serde_json::to_string_pretty(&stored)
            .map_err(|e| crate::error::Error::Internal(e.to_string()))?;
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).map_err(|e| {
                crate::error::Error::io(format!("creating {}", parent.display()), e)
            })?;
        }
        std::fs::write(&path, text)
            .map_err(|e| crate::error::Error::io(format!("writing {}", path.display()), e))?;
        println!(
            "wrote {}: the next `devicekb reindex` uses this model (delete the file to go back to the KB's own calibration)",
            path.display()
        );
    }
    Ok(())
}
