//! Readiness: each part the service needs, really exercised.

use std::sync::Arc;

use serde::Serialize;

use super::Engine;
use crate::index::bm25::Bm25Query;
use crate::index::calibration::CalibrationSummary;
use crate::kb::Lang;

#[derive(Debug, Clone, Serialize)]
pub struct Check {
    pub ok: bool,
    pub detail: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct Health {
    pub status: &'static str,
    pub generation: String,
    pub index: Check,
    pub model: Check,
    pub vectors: Check,
    pub store: Check,
    /// How the current generation turns evidence into relevance, and the threshold the
    /// decision uses for the target precision.
    pub calibration: CalibrationSummary,
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

impl Engine {
    pub async fn health(self: &Arc<Self>) -> Health {
        let generation = self.generation();
        let mut calibration = generation.calibration.summary(self.config.target_precision);
        if let Some(fixed) = self.config.answer_threshold {
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
                        .map(|n| format!("{} (current {n})", data.display())),
                );
                Ok((generation.name.clone(), index, model, vectors, store))
            })
            .await;
        match checked {
            Ok((generation, index, model, vectors, store)) => {
                let mut health = Health {
                    status: "ok",
                    generation,
                    index,
                    model,
                    vectors,
                    store,
                    calibration,
                };
                if !health.ready() {
                    health.status = "unavailable";
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
                    index: failed.clone(),
                    model: failed.clone(),
                    vectors: failed.clone(),
                    store: failed,
                    calibration,
                }
            }
        }
    }
}
