//! The query-embedding queue. A single worker thread owns the model calls and embeds the
//! waiting queries one by one, in arrival order, answering each as soon as its vector is
//! ready. Queries are not batched: the int8 model quantises activations per input
//! tensor, so a query's vector would depend on the queries run beside it (see
//! `onnx.rs`), and a query would wait for the whole batch.

use std::sync::mpsc;
use std::sync::Arc;

use super::Embedder;
use crate::error::{Error, Result};

type Reply = tokio::sync::oneshot::Sender<Result<Vec<f32>>>;

pub struct QueryQueue {
    queue: mpsc::Sender<(String, Reply)>,
}

impl QueryQueue {
    pub fn new(embedder: Arc<dyn Embedder>) -> Self {
        let (queue, requests) = mpsc::channel::<(String, Reply)>();
        std::thread::Builder::new()
            .name("devicekb-embed".into())
            .spawn(move || {
                while let Ok((text, reply)) = requests.recv() {
                    let vector = embedder.embed_queries(&[&text]).and_then(|mut v| {
                        v.pop()
                            .ok_or_else(|| Error::Embedding("the model returned no vector".into()))
                    });
                    let _ = reply.send(vector);
                }
            })
            .expect("the embedding thread starts");
        QueryQueue { queue }
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
        let queue = Arc::new(QueryQueue::new(embedder.clone()));
        let handles: Vec<_> = (0..16)
            .map(|i| {
                let b = queue.clone();
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
