//! The query-embedding queue. Worker threads (as many as the embedder runs queries at once
//! to best effect: one per query session of the ONNX model) take the waiting queries in
//! arrival order and embed each alone, answering it as soon as its vector is ready. Queries are not batched: the int8 model quantises activations per input
//! tensor, so a query's vector would depend on the queries run beside it (see
//! `onnx.rs`), and a query would wait for the whole batch. The queue is bounded: when
//! `capacity` queries already wait, a new one is refused at once (`Overloaded`, a 503
//! with `Retry-After`) rather than queued behind seconds of work.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc;
use std::sync::Arc;

use super::Embedder;
use crate::error::{Error, Result};

type Reply = tokio::sync::oneshot::Sender<Result<Vec<f32>>>;

pub struct QueryQueue {
    queue: mpsc::SyncSender<(String, Reply)>,
    capacity: usize,
    /// Queries sent and not yet taken by the thread (the gauge is set from it, never
    /// moved by increments, so it cannot drift).
    depth: Arc<AtomicUsize>,
}

/// Queries that may wait for the embedding thread by default: at ~5-15 ms each, about a
/// second of work.
pub const DEFAULT_QUEUE_CAPACITY: usize = 128;

impl QueryQueue {
    pub fn new(embedder: Arc<dyn Embedder>) -> Self {
        QueryQueue::with_capacity(embedder, DEFAULT_QUEUE_CAPACITY)
    }

    pub fn with_capacity(embedder: Arc<dyn Embedder>, capacity: usize) -> Self {
        let capacity = capacity.max(1);
        let (queue, requests) = mpsc::sync_channel::<(String, Reply)>(capacity);
        let depth = Arc::new(AtomicUsize::new(0));
        let requests = Arc::new(parking_lot::Mutex::new(requests));
        for worker in 0..embedder.query_parallelism().max(1) {
            let (taken, requests, embedder) = (depth.clone(), requests.clone(), embedder.clone());
            std::thread::Builder::new()
                .name(format!("devicekb-embed-{worker}"))
                .spawn(move || {
                    // The receiver is held only to take the next query, not while it runs.
                    while let Ok((text, reply)) = {
                        let next = requests.lock().recv();
                        next
                    } {
                        let left = taken.fetch_sub(1, Ordering::SeqCst).saturating_sub(1);
                        crate::telemetry::embedding_queue(left);
                        if reply.is_closed() {
                            // Its request timed out or its client left: spend nothing on it.
                            continue;
                        }
                        crate::telemetry::embedding_batch("query", 1);
                        let vector = embedder.embed_queries(&[&text]).and_then(|mut v| {
                            v.pop().ok_or_else(|| {
                                Error::Embedding("the model returned no vector".into())
                            })
                        });
                        let _ = reply.send(vector);
                    }
                })
                .expect("the embedding thread starts");
        }
        QueryQueue {
            queue,
            capacity,
            depth,
        }
    }

    fn submit(&self, query: &str) -> Result<tokio::sync::oneshot::Receiver<Result<Vec<f32>>>> {
        let (reply, answer) = tokio::sync::oneshot::channel();
        // Counted before it is sent, so the thread never takes one not yet counted.
        let waiting = self.depth.fetch_add(1, Ordering::SeqCst) + 1;
        let sent = self.queue.try_send((query.to_string(), reply));
        if sent.is_err() {
            self.depth.fetch_sub(1, Ordering::SeqCst);
        }
        match sent {
            Ok(()) => {
                crate::telemetry::embedding_queue(waiting);
                Ok(answer)
            }
            Err(mpsc::TrySendError::Full(_)) => Err(Error::Overloaded(format!(
                "{} queries are waiting to be embedded; retry in a second",
                self.capacity
            ))),
            Err(mpsc::TrySendError::Disconnected(_)) => {
                Err(Error::Embedding("the embedding thread has stopped".into()))
            }
        }
    }

    /// The query's vector, blocking the calling thread (not for async code).
    pub fn embed(&self, query: &str) -> Result<Vec<f32>> {
        self.submit(query)?
            .blocking_recv()
            .map_err(|_| Error::Embedding("the embedding thread has stopped".into()))?
    }

    /// The vectors of several texts, each embedded alone: all are queued first, so the
    /// workers take them together, then awaited in order. Each may be refused on its own
    /// (`Overloaded` when the queue is full).
    pub async fn embed_all_async(&self, texts: &[&str]) -> Vec<Result<Vec<f32>>> {
        let submitted: Vec<_> = texts.iter().map(|t| self.submit(t)).collect();
        let mut out = Vec::with_capacity(submitted.len());
        for receiver in submitted {
            out.push(match receiver {
                Ok(r) => r
                    .await
                    .map_err(|_| Error::Embedding("the embedding thread has stopped".into()))
                    .and_then(|v| v),
                Err(e) => Err(e),
            });
        }
        out
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

    /// An embedder that waits until told, so the queue can be filled.
    struct Gate(std::sync::Mutex<()>, HashingEmbedder);

    impl Embedder for Gate {
        fn name(&self) -> &str {
            "gate"
        }
        fn dim(&self) -> usize {
            self.1.dim()
        }
        fn embed_queries(&self, texts: &[&str]) -> Result<Vec<Vec<f32>>> {
            let _open = self.0.lock().unwrap();
            self.1.embed_queries(texts)
        }
        fn embed_passages(&self, texts: &[&str]) -> Result<Vec<Vec<f32>>> {
            self.1.embed_passages(texts)
        }
    }

    #[tokio::test]
    async fn a_full_queue_refuses_at_once_and_recovers() {
        let gate = Arc::new(Gate(std::sync::Mutex::new(()), HashingEmbedder::new(16)));
        let closed = gate.0.lock().unwrap();
        let queue = QueryQueue::with_capacity(gate.clone(), 2);
        // The worker holds at most one query while the model is blocked; two more wait.
        let submitted: Vec<_> = (0..5).map(|i| queue.submit(&format!("q{i}"))).collect();
        let accepted = submitted.iter().filter(|r| r.is_ok()).count();
        assert!((2..=3).contains(&accepted), "{accepted} accepted");
        assert!(
            submitted
                .iter()
                .any(|r| matches!(r, Err(Error::Overloaded(_)))),
            "a full queue refuses"
        );
        // Refused queries are not counted as waiting; the one the worker holds is not either.
        let waiting = queue.depth.load(Ordering::SeqCst);
        assert!(waiting <= 2 && waiting + 1 >= accepted, "{waiting} waiting");
        drop(closed);
        for answer in submitted.into_iter().flatten() {
            assert!(answer.await.unwrap().is_ok());
        }
        assert!(
            queue.embed_async("after").await.is_ok(),
            "the queue recovers"
        );
        assert_eq!(queue.depth.load(Ordering::SeqCst), 0, "none left waiting");
    }

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
