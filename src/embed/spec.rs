//! How to use a model directory: `devicekb-model.toml` says the pooling, the prefixes and
//! the dimension, so a KB editor can point devicekb at another ONNX model.

use std::path::Path;

use serde::Deserialize;

use crate::error::{Error, Result};

pub const SPEC_FILE: &str = "devicekb-model.toml";

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ModelSpec {
    pub name: String,
    pub dim: usize,
    /// `mean` or `cls`.
    #[serde(default = "default_pooling")]
    pub pooling: String,
    #[serde(default)]
    pub query_prefix: String,
    #[serde(default)]
    pub passage_prefix: String,
    /// Token limit of one input; longer inputs are truncated (passages are chunked before).
    #[serde(default = "default_max_length")]
    pub max_length: usize,
}

fn default_pooling() -> String {
    "mean".into()
}

fn default_max_length() -> usize {
    512
}

impl ModelSpec {
    pub fn load(model_dir: &Path) -> Result<Self> {
        let path = model_dir.join(SPEC_FILE);
        let text = std::fs::read_to_string(&path).map_err(|e| {
            Error::Config(format!(
                "cannot read {} ({e}); run `make setup` or set DEVICEKB_MODEL_DIR to a prepared model directory",
                path.display()
            ))
        })?;
        let spec: ModelSpec = toml::from_str(&text)
            .map_err(|e| Error::Config(format!("{}: {}", path.display(), e.message().trim())))?;
        if !matches!(spec.pooling.as_str(), "mean" | "cls") {
            return Err(Error::Config(format!(
                "{}: pooling must be `mean` or `cls`, not `{}`",
                path.display(),
                spec.pooling
            )));
        }
        if spec.dim == 0 {
            return Err(Error::Config(format!(
                "{}: dim must be positive",
                path.display()
            )));
        }
        Ok(spec)
    }
}
