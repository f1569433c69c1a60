//! Extraction as a service call: validate the text, run the current generation's
//! extractor on the CPU pool.

use std::sync::Arc;

use serde::Deserialize;

use super::Engine;
use crate::error::{Error, Result};
use crate::extract::Extraction;

/// Longest text the extractor accepts through the service (64 KiB).
pub const MAX_EXTRACT_BYTES: usize = 64 * 1024;

#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
pub struct ExtractRequest {
    pub text: String,
}

impl ExtractRequest {
    pub fn validate(&self) -> Result<()> {
        if self.text.trim().is_empty() {
            return Err(Error::invalid("text", "must not be empty"));
        }
        if self.text.len() > MAX_EXTRACT_BYTES {
            return Err(Error::PayloadTooLarge(format!(
                "text is {} bytes long; the limit is {MAX_EXTRACT_BYTES}",
                self.text.len()
            )));
        }
        Ok(())
    }
}

impl Engine {
    /// Model, manufacturer, error codes and serial of `request.text`.
    pub async fn extract(self: &Arc<Self>, request: ExtractRequest) -> Result<Extraction> {
        request.validate()?;
        let generation = self.generation();
        self.cpu(move || Ok(generation.extractor.extract(&request.text)))
            .await
    }
}
