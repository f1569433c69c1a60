//! Readiness: each part the service needs, really exercised.

use std::sync::Arc;

use serde::Serialize;

use super::Engine;
use crate::index::bm25::Bm25Query;
use crate::index::calibration::CalibrationSummary;
use crate::index::glossary::GlossarySummary;
use crate::kb::lexicon::LexiconSummary;
use crate::kb::Lang;

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Check {
    pub ok: bool,
    pub detail: String,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Health {
    pub status: &'static str,
    /// The generation served.
    pub generation: String,
    /// Set when that is not the generation `CURRENT` names: which one, why, and what is
    /// served instead. The service stays ready (it answers from a complete generation);
    /// the next successful reindex clears it. `status` is then "degraded".
    #[serde(skip_serializing_if = "Option::is_none")]
    pub generation_note: Option<String>,
    pub index: Check,
    pub model: Check,
    pub vectors: Check,
    pub store: Check,
    /// How the current generation turns evidence into relevance, and the threshold the
    /// decision uses for the target precision.
    pub calibration: CalibrationSummary,
    /// The customers' words keyword search reads (see `kb::lexicon`).
    pub lexicon: LexiconSummary,
    /// The KB's words that messages in another language are also searched with (see
    /// `index::glossary`).
    pub glossary: GlossarySummary,
    /// The languages the entries are written in, and what cannot be done in the others.
    pub languages: crate::kb::lang::LanguageSummary,
}

impl Health {
    pub fn ready(&self) -> bool {
        self.index.ok && self.model.ok && self.vectors.ok && self.store.ok
    }
}

fn check(result: std::result::Result<String, String>) -> Check {
    match result {
        Ok(detail) => Check { ok: true, detail },
        Err(detail) => Check { ok: false, detail },
    }
}

/// How long a health check's result is served again.
const HEALTH_TTL: std::time::Duration = std::time::Duration::from_secs(1);

impl Engine {
    /// The health of the engine, checked at most once a second (concurrent callers wait
    /// for the one check running).
    pub async fn health(self: &Arc<Self>) -> Health {
        let mut cache = self.health_cache.lock().await;
        if let Some((at, health)) = cache.as_ref() {
            if at.elapsed() < HEALTH_TTL {
                return health.clone();
            }
        }
        let health = self.check_health().await;
        *cache = Some((std::time::Instant::now(), health.clone()));
        health
    }

    async fn check_health(self: &Arc<Self>) -> Health {
        let generation = self.generation();
        let mut calibration = generation.calibration.summary(self.config.target_precision);
        let lexicon = generation.lexicon.summary();
        let glossary = generation.glossary.summary();
        let languages = generation.languages.clone();
        let served = self.config.fusion.method;
        if let Some(fitted) = generation.calibration.fitted_for_other_fusion(served) {
            calibration.threshold = None;
            calibration.answered = None;
            calibration.notes.push(format!(
                "fitted under {} fusion but served under {} (DEVICEKB_FUSION): no automatic answer rests on it, whatever the threshold, until a reindex with the server's settings",
                fitted.as_str(),
                served.as_str()
            ));
        } else if let Some(fixed) = self.config.answer_threshold {
            calibration.threshold = Some(fixed);
            calibration.answered = None;
            calibration
                .notes
                .push("the threshold is fixed by DEVICEKB_ANSWER_MIN_CONFIDENCE".into());
        }
        let engine = self.clone();
        let checked = self
            .cpu(move || {
                let generation = engine.generation();
                let index = check(
                    generation
                        .bm25
                        .search(
                            &Bm25Query {
                                text: "imprimante printer",
                                models: None,
                                codes: &[],
                                expansion: &[],
                                limit: 1,
                            },
                            Lang::Fr,
                        )
                        .map(|_| format!("{} entries", generation.entries.len()))
                        .map_err(|e| e.to_string()),
                );
                let probe = engine.embedder.embed_queries(&["health check"]);
                let model = check(match &probe {
                    Ok(v) if v.first().map(Vec::len) == Some(engine.embedder.dim()) => Ok(format!(
                        "{} ({} dimensions)",
                        engine.embedder.name(),
                        engine.embedder.dim()
                    )),
                    Ok(_) => Err("the model returned a vector of the wrong size".into()),
                    Err(e) => Err(e.to_string()),
                });
                let vectors = check(match &probe {
                    Ok(v) if !v.is_empty() => generation
                        .vectors
                        .search(&v[0], None, 1)
                        .map(|_| {
                            format!(
                                "{} chunks in the {} store",
                                generation.vectors.len(),
                                generation.vectors.backend()
                            )
                        })
                        .map_err(|e| e.to_string()),
                    _ => Err("no probe vector".into()),
                });
                let data = &engine.config.data_dir;
                let store = check(
                    crate::index::generation::current_generation_name(data)
                        .map_err(|e| e.to_string())
                        .and_then(|n| n.ok_or_else(|| "no current generation".to_string()))
                        // The generation only: the path is the operator's, not the client's.
                        .map(|n| format!("current {n}")),
                );
                Ok((generation.name.clone(), index, model, vectors, store))
            })
            .await;
        match checked {
            Ok((generation, index, model, vectors, store)) => {
                let mut health = Health {
                    status: "ok",
                    generation,
                    generation_note: self.generation_note(),
                    index,
                    model,
                    vectors,
                    store,
                    calibration,
                    lexicon,
                    glossary,
                    languages,
                };
                if !health.ready() {
                    health.status = "unavailable";
                } else if health.generation_note.is_some() {
                    // Still 200: it answers, from an older complete generation.
                    health.status = "degraded";
                }
                health
            }
            Err(e) => {
                let failed = Check {
                    ok: false,
                    detail: e.to_string(),
                };
                Health {
                    status: "unavailable",
                    generation: String::new(),
                    generation_note: self.generation_note(),
                    index: failed.clone(),
                    model: failed.clone(),
                    vectors: failed.clone(),
                    store: failed,
                    calibration,
                    lexicon,
                    glossary,
                    languages,
                }
            }
        }
    }
}
