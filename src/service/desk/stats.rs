//! What support staff read about the queue and the pipeline: ticket counts, the daily
//! automation metrics and pipeline times.

use std::collections::BTreeMap;

use serde::Serialize;

use super::Desk;
use crate::error::{Error, Result};
pub use crate::store::{Count, TicketStats};
use crate::store::{DailyMetrics, Store, TicketOutcome};

/// Days `GET /stats/pipeline` covers by default, and at most.
pub const DEFAULT_DAYS: u32 = 30;
pub const MAX_DAYS: u32 = 366;
/// How often the pipeline refreshes today's `automation_metrics` row.
const METRICS_REFRESH_SECS: u64 = 60;

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct PipelineDay {
    pub day: String,
    pub tickets: i64,
    pub auto_resolved: i64,
    pub escalated: i64,
    /// Shares of the day's tickets, 0-100 (`null` on a day without tickets).
    pub auto_resolved_pct: Option<f64>,
    pub escalated_pct: Option<f64>,
    /// Pipeline time per ticket (sum of its steps), milliseconds.
    pub mean_ms: Option<f64>,
    pub median_ms: Option<f64>,
    pub p95_ms: Option<f64>,
    /// Escalated tickets by reason (`low_confidence`, `out_of_scope`, ...).
    pub escalation_reasons: BTreeMap<String, i64>,
    /// Customers' feedback on the automatic replies of the day's tickets.
    pub helpful: i64,
    pub unhelpful: i64,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct PipelineStats {
    pub days: Vec<PipelineDay>,
    pub total: PipelineDay,
}

/// The civil date (UTC) `days_ago` days before now, as YYYY-MM-DD.
pub fn utc_day(days_ago: u32) -> String {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or_default();
    civil_date((now / 86_400) as i64 - i64::from(days_ago))
}

/// Days since 1970-01-01 to a date (Howard Hinnant's algorithm).
fn civil_date(days: i64) -> String {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!("{y:04}-{m:02}-{d:02}")
}

impl PipelineDay {
    /// The day as `automation_metrics` stores it.
    fn metrics(&self) -> DailyMetrics {
        DailyMetrics {
            day: self.day.clone(),
            tickets: self.tickets,
            auto_resolved: self.auto_resolved,
            escalated: self.escalated,
            mean_ms: self.mean_ms,
            p95_ms: self.p95_ms,
        }
    }
}

fn percentile(sorted: &[f64], p: f64) -> Option<f64> {
    if sorted.is_empty() {
        return None;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    Some(sorted[rank.clamp(1, sorted.len()) - 1])
}

/// The middle value of `sorted`, or the mean of the two middle ones.
fn median(sorted: &[f64]) -> Option<f64> {
    let n = sorted.len();
    match n {
        0 => None,
        _ if n % 2 == 1 => Some(sorted[n / 2]),
        _ => Some((sorted[n / 2 - 1] + sorted[n / 2]) / 2.0),
    }
}

fn summarise(day: String, outcomes: &[&TicketOutcome]) -> PipelineDay {
    let mut times: Vec<f64> = outcomes.iter().map(|o| o.processing_ms).collect();
    times.sort_by(f64::total_cmp);
    let n = times.len() as i64;
    let count =
        |keep: &dyn Fn(&TicketOutcome) -> bool| outcomes.iter().filter(|o| keep(o)).count() as i64;
    let auto = count(&|o| o.auto_resolved);
    let escalated = count(&|o| o.escalated);
    let pct = |k: i64| (n > 0).then(|| (1000.0 * k as f64 / n as f64).round() / 10.0);
    let mut escalation_reasons = BTreeMap::new();
    for o in outcomes.iter().filter(|o| o.escalated) {
        let reason = o.escalation_reason.clone().unwrap_or_default();
        *escalation_reasons.entry(reason).or_insert(0) += 1;
    }
    PipelineDay {
        day,
        tickets: n,
        auto_resolved: auto,
        escalated,
        auto_resolved_pct: pct(auto),
        escalated_pct: pct(escalated),
        mean_ms: (n > 0).then(|| times.iter().sum::<f64>() / n as f64),
        median_ms: median(&times),
        p95_ms: percentile(&times, 95.0),
        escalation_reasons,
        helpful: count(&|o| o.helpful == Some(1)),
        unhelpful: count(&|o| o.helpful == Some(0)),
    }
}

impl Desk {
    pub async fn ticket_stats(&self) -> Result<TicketStats> {
        self.store()?.ticket_stats().await
    }

    /// Per day over the last `days` days (today included): volume, automatic and
    /// escalated shares, mean and p95 pipeline time. The days are also written to
    /// `automation_metrics`.
    pub async fn pipeline_stats(&self, days: Option<u32>) -> Result<PipelineStats> {
        let days = days.unwrap_or(DEFAULT_DAYS);
        if !(1..=MAX_DAYS).contains(&days) {
            return Err(Error::invalid(
                "days",
                format!("must be between 1 and {MAX_DAYS}"),
            ));
        }
        let store = self.store()?;
        let since = utc_day(days - 1);
        let outcomes = store.ticket_outcomes(&since).await?;
        let mut by_day: BTreeMap<String, Vec<&TicketOutcome>> =
            (0..days).map(|ago| (utc_day(ago), Vec::new())).collect();
        for o in &outcomes {
            by_day.entry(o.day.clone()).or_default().push(o);
        }
        let days: Vec<PipelineDay> = by_day
            .into_iter()
            .map(|(day, outcomes)| summarise(day, &outcomes))
            .collect();
        let metrics: Vec<DailyMetrics> = days
            .iter()
            .filter(|d| d.tickets > 0)
            .map(PipelineDay::metrics)
            .collect();
        store.put_daily_metrics(&metrics).await?;
        Ok(PipelineStats {
            total: summarise(
                format!("{since}..{}", utc_day(0)),
                &outcomes.iter().collect::<Vec<_>>(),
            ),
            days,
        })
    }

    /// Brings today's `automation_metrics` row up to date, at most once every
    /// `METRICS_REFRESH_SECS` (reading the day's tickets on every ticket would grow with the
    /// day's volume); `GET /stats/pipeline` always recomputes. Failures are only logged: a
    /// ticket never fails for its statistics.
    pub(crate) async fn refresh_today_metrics(&self, store: &dyn Store) {
        use std::sync::atomic::Ordering;
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or_default();
        let last = self.metrics_refreshed_at.load(Ordering::Relaxed);
        if now < last + METRICS_REFRESH_SECS
            || self
                .metrics_refreshed_at
                .compare_exchange(last, now, Ordering::Relaxed, Ordering::Relaxed)
                .is_err()
        {
            return;
        }
        let today = utc_day(0);
        let result = async {
            let outcomes = store.ticket_outcomes(&today).await?;
            let d = summarise(today.clone(), &outcomes.iter().collect::<Vec<_>>());
            store.put_daily_metrics(&[d.metrics()]).await
        }
        .await;
        if let Err(e) = result {
            tracing::warn!(error = %e.chain(), "today's automation metrics were not updated");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn civil_dates() {
        assert_eq!(civil_date(0), "1970-01-01");
        assert_eq!(civil_date(19_723), "2024-01-01");
        assert_eq!(civil_date(19_782), "2024-02-29");
    }

    #[test]
    fn the_95th_percentile_is_a_real_value() {
        let v: Vec<f64> = (1..=100).map(f64::from).collect();
        assert_eq!(percentile(&v, 95.0), Some(95.0));
        assert_eq!(percentile(&[7.0], 95.0), Some(7.0));
        assert_eq!(percentile(&[], 95.0), None);
    }

    #[test]
    fn the_median_of_an_even_count_is_the_mean_of_the_middle_two() {
        assert_eq!(median(&[100.0, 300.0]), Some(200.0));
        assert_eq!(median(&[1.0, 2.0, 9.0]), Some(2.0));
        assert_eq!(median(&[]), None);
    }
}
