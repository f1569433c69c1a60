//! Vectors in a Qdrant server (when `QDRANT_URL` is set): one collection per index
//! generation, and an alias that points at the current one for other consumers. The
//! server itself always searches the collection recorded in the generation's manifest,
//! so the BM25 index and the vectors it fuses come from the same build.
//!
//! The trait methods are synchronous because searches run on the blocking pool; they
//! drive the async client with the runtime handle captured at construction.

use std::collections::HashMap;
use std::sync::Arc;

use qdrant_client::qdrant::{
    Condition, CreateAliasBuilder, CreateCollectionBuilder, Distance, Filter, PointStruct, Query,
    QueryPointsBuilder, UpsertPointsBuilder, VectorParamsBuilder,
};
use qdrant_client::{Payload, Qdrant};
use tokio::runtime::Handle;

use crate::error::{Error, Result};
use crate::index::bm25::GENERIC_MODEL;
use crate::index::reindex::VectorPublisher;
use crate::index::vector::{ChunkVectors, VectorStore};

#[derive(Debug, Clone)]
pub struct QdrantConfig {
    pub url: String,
    pub api_key: Option<String>,
    /// Alias name; collections are `{alias}_gen_{n}`.
    pub alias: String,
}

fn qerr(context: &str, e: impl std::fmt::Display) -> Error {
    Error::index_caused(format!("qdrant: {context}"), e.to_string())
}

pub fn connect(config: &QdrantConfig) -> Result<Arc<Qdrant>> {
    let mut builder = Qdrant::from_url(&config.url).skip_compatibility_check();
    if let Some(key) = &config.api_key {
        builder = builder.api_key(key.clone());
    }
    builder
        .build()
        .map(Arc::new)
        .map_err(|e| qerr("connecting", e))
}

pub struct QdrantVectors {
    client: Arc<Qdrant>,
    handle: Handle,
    collection: String,
    chunks: usize,
}

impl QdrantVectors {
    pub fn new(client: Arc<Qdrant>, handle: Handle, collection: String, chunks: usize) -> Self {
        QdrantVectors {
            client,
            handle,
            collection,
            chunks,
        }
    }
}

impl VectorStore for QdrantVectors {
    fn search(
        &self,
        query: &[f32],
        models: Option<&[String]>,
        limit: usize,
    ) -> Result<Vec<(u32, f32)>> {
        if limit == 0 {
            return Ok(Vec::new());
        }
        // Several chunks may belong to one entry: ask for more, keep each entry's best.
        let mut request = QueryPointsBuilder::new(&self.collection)
            .query(Query::new_nearest(query.to_vec()))
            .limit((limit * 4) as u64)
            .with_payload(true);
        if let Some(models) = models {
            let mut allowed: Vec<String> = models.to_vec();
            allowed.push(GENERIC_MODEL.to_string());
            request = request.filter(Filter::must([Condition::matches("models", allowed)]));
        }
        let response = self
            .handle
            .block_on(self.client.query(request))
            .map_err(|e| qerr("searching", e))?;
        let mut best: HashMap<u32, f32> = HashMap::new();
        for point in response.result {
            let Some(ord) = point.payload.get("entry").and_then(|v| v.as_integer()) else {
                return Err(qerr("searching", "a point has no `entry` payload"));
            };
            let slot = best.entry(ord as u32).or_insert(f32::NEG_INFINITY);
            *slot = slot.max(point.score);
        }
        let mut hits: Vec<(u32, f32)> = best.into_iter().collect();
        hits.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
        hits.truncate(limit);
        Ok(hits)
    }

    fn len(&self) -> usize {
        self.chunks
    }

    fn backend(&self) -> &'static str {
        "qdrant"
    }
}

pub struct QdrantPublisher {
    client: Arc<Qdrant>,
    handle: Handle,
    alias: String,
}

impl QdrantPublisher {
    pub fn new(client: Arc<Qdrant>, handle: Handle, alias: String) -> Self {
        QdrantPublisher {
            client,
            handle,
            alias,
        }
    }
}

impl VectorPublisher for QdrantPublisher {
    fn publish(
        &self,
        generation: u64,
        vectors: &ChunkVectors,
        entry_models: &[Vec<String>],
        entry_ids: &[String],
    ) -> Result<String> {
        let collection = format!("{}_gen_{generation:06}", self.alias);
        self.handle.block_on(async {
            if self
                .client
                .collection_exists(&collection)
                .await
                .map_err(|e| qerr("checking the collection", e))?
            {
                self.client
                    .delete_collection(&collection)
                    .await
                    .map_err(|e| qerr("dropping a stale collection", e))?;
            }
            self.client
                .create_collection(CreateCollectionBuilder::new(&collection).vectors_config(
                    VectorParamsBuilder::new(vectors.dim as u64, Distance::Cosine),
                ))
                .await
                .map_err(|e| qerr("creating the collection", e))?;
            let points: Vec<PointStruct> = (0..vectors.len())
                .map(|i| {
                    let entry = vectors.chunk_entry[i] as usize;
                    let models = if entry_models[entry].is_empty() {
                        vec![GENERIC_MODEL.to_string()]
                    } else {
                        entry_models[entry].clone()
                    };
                    let payload = Payload::try_from(serde_json::json!({
                        "entry": entry,
                        "entry_id": entry_ids[entry],
                        "models": models,
                    }))
                    .expect("a JSON object is a payload");
                    PointStruct::new(i as u64, vectors.vector(i).to_vec(), payload)
                })
                .collect();
            for batch in points.chunks(512) {
                self.client
                    .upsert_points(UpsertPointsBuilder::new(&collection, batch.to_vec()).wait(true))
                    .await
                    .map_err(|e| qerr("uploading vectors", e))?;
            }
            Ok::<_, Error>(())
        })?;
        Ok(collection)
    }

    fn retire(&self, collection: &str) -> Result<()> {
        self.handle.block_on(async {
            if self
                .client
                .collection_exists(collection)
                .await
                .map_err(|e| qerr("checking the collection", e))?
            {
                self.client
                    .delete_collection(collection)
                    .await
                    .map_err(|e| qerr("dropping an old collection", e))?;
            }
            Ok(())
        })
    }

    fn activate(&self, collection: &str) -> Result<()> {
        self.handle.block_on(async {
            // The alias may not exist yet (first generation): ignore that error.
            let _ = self.client.delete_alias(self.alias.as_str()).await;
            self.client
                .create_alias(CreateAliasBuilder::new(collection, &self.alias))
                .await
                .map_err(|e| qerr("moving the alias", e))?;
            Ok(())
        })
    }
}
