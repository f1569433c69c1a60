//! Every integration test, as one binary: the crate and its dependencies are linked once
//! instead of once per file, and the tests share one embedding model and one service over
//! the bundled KB (`common::repo_service`), which each binary used to build for itself (on
//! a fresh clone, embedding the whole KB each time). Each file is a module named after it:
//! `cargo test --release --test suite -- answer::` runs `tests/answer.rs`. The layering
//! check reads source text only and stays a binary of its own (`--test layering`).

mod common;

mod access;
mod answer;
mod api;
mod calibration_reuse;
mod classify;
mod compose;
mod confirmed;
mod conversation;
mod crash;
mod decisive;
mod durability;
mod earlier_clients;
mod embedding;
mod extraction;
mod idempotency;
mod idempotency_http;
mod kb;
mod logs;
mod mysql_tls;
mod openapi;
mod pipeline_failures;
mod qdrant;
mod quality;
mod reindex;
mod store;
mod sweep;
mod tickets;
mod transfer;
mod two_servers;
mod ui;
mod ui_desk;
