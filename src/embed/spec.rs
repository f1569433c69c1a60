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
    /// The cosine at which the KB's glossary takes a KB word for the translation of a
    /// message's word (see `DEFAULT_GLOSSARY_MIN_COSINE`).
    #[serde(default = "default_glossary_min_cosine")]
    pub glossary_min_cosine: f32,
}

/// The glossary's cut for a model whose `devicekb-model.toml` names none: the default
/// model's. Models spread cosines very differently, so a model directory for another one
/// should carry its own (`scripts/glossary_cut.py` prints where a list of translations and
/// of look-alikes fall). Measured with multilingual-e5-small int8, whose cosines crowd near
/// 1: translations 0.81-0.98, look-alikes 0.84-0.98, unrelated words 0.85 at the median;
/// at 0.93, 11 of the script's 29 translations pass ("deadline" / "délai" 0.94, "car" /
/// "voiture" 0.95) and 4 of its 19 look-alikes ("invoice" / "invoqué" 0.935).
pub const DEFAULT_GLOSSARY_MIN_COSINE: f32 = 0.93;

/// Whether `cut` can be a glossary cut: a cosine in (0, 1] (NaN is not).
pub fn is_glossary_cut(cut: f32) -> bool {
    cut > 0.0 && cut <= 1.0
}

fn default_glossary_min_cosine() -> f32 {
    DEFAULT_GLOSSARY_MIN_COSINE
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
        if !is_glossary_cut(spec.glossary_min_cosine) {
            return Err(Error::Config(format!(
                "{}: glossary_min_cosine must be in (0, 1], not {}",
                path.display(),
                spec.glossary_min_cosine
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

#[cfg(test)]
mod tests {
    use super::*;

    fn spec_with(extra: &str) -> Result<ModelSpec> {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join(SPEC_FILE),
            format!("name = \"m\"\ndim = 4\n{extra}"),
        )
        .unwrap();
        ModelSpec::load(dir.path())
    }

    #[test]
    fn the_glossary_cut_is_the_default_model_s_unless_the_model_names_its_own() {
        assert_eq!(
            spec_with("").unwrap().glossary_min_cosine,
            DEFAULT_GLOSSARY_MIN_COSINE
        );
        assert_eq!(
            spec_with("glossary_min_cosine = 0.85")
                .unwrap()
                .glossary_min_cosine,
            0.85
        );
        for bad in ["0.0", "1.5", "-0.2", "nan"] {
            let err = spec_with(&format!("glossary_min_cosine = {bad}"))
                .unwrap_err()
                .to_string();
            assert!(err.contains("glossary_min_cosine"), "{bad}: {err}");
        }
    }
}
