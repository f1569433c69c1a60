//! A reindex's progress on the terminal: a bar when stderr is one, otherwise a line every
//! few seconds and at each phase, so a log (CI, systemd, `docker logs`) says what a long
//! build is doing instead of nothing until the end.

use std::io::IsTerminal;
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressStyle};
use parking_lot::Mutex;

use crate::index::Progress;

/// At most one embedding line this often when stderr is not a terminal.
const LINE_EVERY: Duration = Duration::from_secs(5);

pub enum ReindexProgress {
    Bar(ProgressBar),
    Lines(Mutex<Lines>),
}

pub struct Lines {
    started: Instant,
    last_line: Option<Instant>,
}

impl ReindexProgress {
    pub fn new() -> ReindexProgress {
        if std::io::stderr().is_terminal() {
            let bar = ProgressBar::new(0);
            bar.set_style(
                ProgressStyle::with_template(
                    "{msg:>10} [{bar:40}] {pos}/{len} {prefix} ({per_sec}, eta {eta})",
                )
                .expect("valid template")
                .progress_chars("=> "),
            );
            ReindexProgress::Bar(bar)
        } else {
            ReindexProgress::Lines(Mutex::new(Lines {
                started: Instant::now(),
                last_line: None,
            }))
        }
    }

    pub fn show(&self, progress: Progress) {
        match self {
            ReindexProgress::Bar(bar) => match progress {
                Progress::Validated { .. } => bar.set_message("validated"),
                Progress::Embedding { done, total } => {
                    bar.set_message("embedding");
                    bar.set_prefix("passages");
                    bar.set_length(total as u64);
                    bar.set_position(done as u64);
                }
                Progress::Glossary { done, total } => {
                    bar.set_message("glossary");
                    bar.set_prefix("words");
                    bar.set_length(total as u64);
                    bar.set_position(done as u64);
                }
                Progress::Indexing => bar.set_message("indexing"),
                Progress::Calibrating => bar.set_message("calibrating"),
                Progress::Switching => bar.set_message("switching"),
            },
            ReindexProgress::Lines(lines) => {
                if let Some(line) = lines.lock().line(progress, Instant::now()) {
                    eprintln!("{line}");
                }
            }
        }
    }

    pub fn finish(&self) {
        if let ReindexProgress::Bar(bar) = self {
            bar.finish_and_clear();
        }
    }
}

impl Lines {
    /// Whether a count's line is due: its first and last always, others every
    /// `LINE_EVERY`.
    fn count_due(&self, done: usize, total: usize, now: Instant) -> bool {
        done == 0
            || done == total
            || self
                .last_line
                .is_none_or(|last| now.duration_since(last) >= LINE_EVERY)
    }

    /// The line to print for `progress` at `now`, if one is due.
    fn line(&mut self, progress: Progress, now: Instant) -> Option<String> {
        let elapsed = now.duration_since(self.started).as_secs_f64();
        let text = match progress {
            Progress::Validated { entries } => format!("KB valid: {entries} entries"),
            Progress::Embedding { done, total } => {
                if !self.count_due(done, total, now) {
                    return None;
                }
                embedding_line(done, total, elapsed)
            }
            Progress::Glossary { done, total } => {
                if !self.count_due(done, total, now) {
                    return None;
                }
                glossary_line(done, total)
            }
            Progress::Indexing => "indexing".to_string(),
            Progress::Calibrating => "calibrating".to_string(),
            Progress::Switching => "switching to the new generation".to_string(),
        };
        self.last_line = Some(now);
        Some(format!("reindex [{elapsed:>6.1} s] {text}"))
    }
}

fn glossary_line(done: usize, total: usize) -> String {
    if total == 0 {
        return "glossary: no word to embed".to_string();
    }
    let percent = done as f64 * 100.0 / total as f64;
    format!("glossary: embedding {done}/{total} words ({percent:.0} %)")
}

fn embedding_line(done: usize, total: usize, elapsed: f64) -> String {
    if total == 0 {
        return "embedding: nothing new to embed".to_string();
    }
    let percent = done as f64 * 100.0 / total as f64;
    let mut line = format!("embedding {done}/{total} passages ({percent:.0} %)");
    if done > 0 && done < total && elapsed > 0.0 {
        let rate = done as f64 / elapsed;
        let left = (total - done) as f64 / rate;
        line.push_str(&format!(", {rate:.1}/s, about {left:.0} s left"));
    }
    line
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_come_at_each_phase_and_every_few_seconds_while_embedding() {
        let start = Instant::now();
        let mut lines = Lines {
            started: start,
            last_line: None,
        };
        let at = |s: u64| start + Duration::from_secs(s);
        let embedding = |done| Progress::Embedding { done, total: 100 };
        assert!(lines
            .line(Progress::Validated { entries: 40 }, at(0))
            .unwrap()
            .contains("40 entries"));
        assert!(lines.line(embedding(0), at(0)).is_some());
        assert_eq!(lines.line(embedding(10), at(2)), None, "too soon");
        let line = lines.line(embedding(50), at(5)).unwrap();
        assert!(line.contains("50/100 passages (50 %)"), "{line}");
        assert!(line.contains("10.0/s, about 5 s left"), "{line}");
        assert!(lines.line(embedding(100), at(6)).is_some(), "the last one");
        let glossary = |done| Progress::Glossary { done, total: 400 };
        let line = lines.line(glossary(0), at(6)).unwrap();
        assert!(
            line.contains("glossary: embedding 0/400 words (0 %)"),
            "{line}"
        );
        assert_eq!(lines.line(glossary(100), at(7)), None, "too soon");
        assert!(lines.line(glossary(400), at(7)).is_some(), "the last one");
        let reused = Progress::Glossary { done: 0, total: 0 };
        assert!(lines
            .line(reused, at(7))
            .unwrap()
            .contains("glossary: no word to embed"));
        assert!(lines.line(Progress::Indexing, at(6)).is_some());
    }
}
