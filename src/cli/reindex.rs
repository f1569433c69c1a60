use super::progress::ReindexProgress;
use super::{load_embedder, Dirs};
use crate::error::{Error, Result};
use crate::extract::load_kb;
use crate::service::{build_generation, connect_qdrant};

#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(flatten)]
    dirs: Dirs,
    /// Print the report as JSON.
    #[arg(long)]
    json: bool,
}

pub async fn run(args: Args) -> Result<()> {
    let config = args.dirs.config()?;
    // Validate before loading the model: a broken KB fails in milliseconds.
    load_kb(&config.kb_dir)?;
    let embedder = load_embedder(&config)?;
    let qdrant = connect_qdrant(&config)?;
    let shown = std::sync::Arc::new(ReindexProgress::new());
    let reporter = shown.clone();
    let progress = move |p| reporter.show(p);
    let runtime = tokio::runtime::Handle::current();
    let report = tokio::task::spawn_blocking(move || {
        build_generation(
            &config,
            embedder.as_ref(),
            qdrant.as_ref(),
            &runtime,
            &progress,
        )
    })
    .await
    .map_err(|e| Error::Internal(e.to_string()))?;
    shown.finish();
    let report = report?;
    if args.json {
        println!(
            "{}",
            serde_json::to_string_pretty(&report).unwrap_or_default()
        );
    } else {
        println!(
            "{}: {} entries, {} chunks ({} embedded, {} reused) in {:.1} s ({:.0} entries/s)",
            report.generation,
            report.entries,
            report.chunks,
            report.embedded_chunks,
            report.reused_chunks,
            report.seconds,
            report.entries_per_second
        );
        print_calibration(&report.calibration);
        let confirmed = &report.confirmed;
        if confirmed.answers > 0 || confirmed.dropped > 0 {
            println!(
                "confirmed answers: {} searched beside the entries ({} embedded, the others reused; cosine lowered by {:.3}){}",
                confirmed.answers,
                confirmed.embedded,
                confirmed.offset,
                if confirmed.dropped > 0 {
                    format!("; {} naming no entry of the KB left out", confirmed.dropped)
                } else {
                    String::new()
                }
            );
        }
        if confirmed.unhelpful > 0 || confirmed.unhelpful_lapsed > 0 {
            println!(
                "unhelpful replies: {} messages whose automatic reply did not help; a message like one of them is not answered automatically with the same entry{}",
                confirmed.unhelpful,
                if confirmed.unhelpful_lapsed > 0 {
                    format!(
                        "; {} marks lapsed: their entry changed since the customer read it",
                        confirmed.unhelpful_lapsed
                    )
                } else {
                    String::new()
                }
            );
        }
        let lexicon = report.lexicon;
        println!(
            "lexicon: {} groups of customers' words ({} the product's, {} the KB's)",
            lexicon.shipped_groups + lexicon.kb_groups,
            lexicon.shipped_groups,
            lexicon.kb_groups
        );
        let glossary = report.glossary;
        match glossary.lang {
            Some(lang) if glossary.words > 0 => println!(
                "glossary: {} words of the KB ({} embedded in {:.1} s), for messages not in {} (a translation within cosine {})",
                glossary.words,
                glossary.embedded,
                glossary.seconds,
                lang.code(),
                glossary.min_cosine
            ),
            Some(_) => println!("glossary: empty (no word of four letters or more in the entries)"),
            None => println!(
                "glossary: none (no language makes 80 % of the entries): messages are searched with their own words"
            ),
        }
        if let Some(note) = &report.languages.note {
            println!("languages: {note}");
        }
    }
    Ok(())
}

/// The calibration in a few lines: where it came from, how well the KB's own queries
/// found their entry, and the threshold the decision will use.
fn print_calibration(c: &crate::index::calibration::CalibrationSummary) {
    if c.source == crate::index::calibration::CalibrationSource::Fallback {
        // Nothing was fitted: no accuracy or error to show, the notes say why.
        println!(
            "calibration: Fallback ({} queries run) in {:.1} s",
            c.queries, c.seconds
        );
    } else {
        println!(
            "calibration: {:?} from {} queries ({} held out, {} labelled) in {:.1} s; first hit right {:.2}, calibration error {:.3}",
            c.source, c.queries, c.held_out, c.labelled, c.seconds, c.top1_accuracy, c.calibration_error
        );
    }
    match (c.threshold, c.answered) {
        (Some(t), Some(a)) => println!(
            "  automatic answers at relevance >= {t:.2} for precision {:.2} ({:.0}% of the calibration queries)",
            c.target_precision,
            a * 100.0
        ),
        (Some(t), None) => println!(
            "  automatic answers at relevance >= {t:.2} for precision {:.2}",
            c.target_precision
        ),
        (None, _) => println!(
            "  no threshold reaches precision {:.2} on this KB: every ticket goes to a person",
            c.target_precision
        ),
    }
    for note in &c.notes {
        println!("  note: {note}");
    }
}
