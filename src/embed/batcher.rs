//! The query-embedding queue. A single worker thread owns the model calls: it takes the
//! first waiting query and everything else already queued (up to `MAX_BATCH`), hands them
//! to the embedder in one call and answers each caller. A lone query is never delayed
//! waiting for company. The ONNX embedder still runs each text alone (see `onnx.rs`: a
//! query's vector must not depend on the queries that arrived with it), so what the
//! queue saves is the hand-offs, not model runs.

use std::sync::mpsc;
use std::sync::Arc;

use super::Embedder;
use crate::error::{Error, Result};

pub const MAX_BATCH: usize = 32;

type Reply = tokio::sync::oneshot::Sender<Result<Vec<f32>>>;

pub struct QueryBatcher {
    queue: mpsc::Sender<(String, Reply)>,
}

impl QueryBatcher {
    pub fn new(embedder: Arc<dyn Embedder>) -> Self {
        let (queue, requests) = mpsc::channel::<(String, Reply)>();
        std::thread::Builder::new()
            .name("devicekb-embed".into())
            .spawn(move || {
                while let Ok(first) = requests.recv() {
                    let mut batch = vec![first];
                    while batch.len() < MAX_BATCH {
                        match requests.try_recv() {
                            Ok(next) => batch.push(next),
                            Err(_) => break,
                        }
                    }
                    let texts: Vec<&str> = batch.iter().map(|(t, _)| t.as_str()).collect();
                    match embedder.embed_queries(&texts) {
                        Ok(vectors) if vectors.len() == batch.len() => {
                            for ((_, reply), v) in batch.into_iter().zip(vectors) {
                                let _ = reply.send(Ok(v));
                            }
                        }
                        Ok(_) => {
                            for (_, reply) in batch {
                                let _ = reply.send(Err(Error::Embedding(
                                    "the model returned the wrong number of vectors".into(),
                                )));
                            }
                        }
                        Err(e) => {
                            let message = e.to_string();
                            for (_, reply) in batch {
                                let _ = reply.send(Err(Error::Embedding(message.clone())));
                            }
                        }
                    }
                }
            })
            .expect("the embedding thread starts");
        QueryBatcher { queue }
    }

    fn submit(&self, query: &str) -> Result<tokio::sync::oneshot::Receiver<Result<Vec<f32>>>> {
        let (reply, answer) = tokio::sync::oneshot::channel();
        self.queue
            .send((query.to_string(), reply))
            .map_err(|_| Error::Embedding("the embedding thread has stopped".into()))?;
        Ok(answer)
    }

    /// The query's vector, blocking the calling thread (not for async code).
    pub fn embed(&self, query: &str) -> Result<Vec<f32>> {
        self.submit(query)?
            .blocking_recv()
            .map_err(|_| Error::Embedding("the embedding thread has stopped".into()))?
    }

    /// The query's vector; the task waits without holding a thread.
    pub async fn embed_async(&self, query: &str) -> Result<Vec<f32>> {
        self.submit(query)?
            .await
            .map_err(|_| Error::Embedding("the embedding thread has stopped".into()))?
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::embed::HashingEmbedder;

    #[test]
    fn concurrent_queries_get_their_own_vectors() {
        let embedder: Arc<dyn Embedder> = Arc::new(HashingEmbedder::new(64));
        let batcher = Arc::new(QueryBatcher::new(embedder.clone()));
        let handles: Vec<_> = (0..16)
            .map(|i| {
                let b = batcher.clone();
                std::thread::spawn(move || (i, b.embed(&format!("query {i}")).unwrap()))
            })
            .collect();
        for h in handles {
            let (i, v) = h.join().unwrap();
            assert_eq!(
                v,
                embedder.embed_queries(&[&format!("query {i}")]).unwrap()[0]
            );
        }
    }
}
