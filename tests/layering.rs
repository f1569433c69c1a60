//! The layers, held by a test: which top-level module may name which (`crate::x`), which
//! external crates stay in their layer, and how long a source file may grow. The engine
//! (kb → extract → embed → index → answer, classify) sees none of the service, the
//! store, the HTTP layer or the command line, and the table below has no cycle.
//!
//! Reads the sources as text: one `use crate::module::…` per module (a grouped
//! `use crate::{a, b}` would hide edges from this check, so it is refused).

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use regex::Regex;

/// Each top-level module and the modules it may name. Anything not listed may not be named.
const ALLOWED: &[(&str, &[&str])] = &[
    ("error", &[]),
    ("telemetry", &[]),
    // Writes that survive a power loss: beneath every layer that writes files.
    ("durable", &["error"]),
    ("kb", &["error", "durable"]),
    ("extract", &["error", "kb"]),
    ("embed", &["error", "telemetry"]),
    ("learn", &["embed"]),
    (
        "index",
        &[
            "error",
            "durable",
            "kb",
            "extract",
            "embed",
            "learn",
            "telemetry",
        ],
    ),
    ("answer", &["error", "kb", "extract", "embed", "index"]),
    (
        "classify",
        &["error", "kb", "extract", "embed", "index", "learn"],
    ),
    // Adapters to the outside world, each beside the engine part it serves.
    ("store", &["error"]),
    ("llm", &["error", "kb", "answer", "telemetry"]),
    ("qdrant", &["error", "kb", "embed", "index"]),
    (
        "config",
        &[
            "error", "kb", "extract", "embed", "index", "answer", "classify", "store", "llm",
            "qdrant",
        ],
    ),
    (
        "service",
        &[
            "error",
            "durable",
            "kb",
            "extract",
            "embed",
            "index",
            "answer",
            "classify",
            "store",
            "llm",
            "qdrant",
            "config",
            "telemetry",
        ],
    ),
    ("api", &["error", "config", "service", "telemetry"]),
    (
        "cli",
        &[
            "error",
            "kb",
            "extract",
            "embed",
            "index",
            "answer",
            "classify",
            "store",
            "llm",
            "qdrant",
            "config",
            "service",
            "api",
            "telemetry",
        ],
    ),
];

const ENGINE: &[&str] = &[
    "kb", "extract", "embed", "learn", "index", "answer", "classify",
];

/// External paths and the only modules that may use them.
const CONFINED: &[(&str, &[&str])] = &[
    ("axum", &["api"]),
    ("sqlx", &["store"]),
    ("metrics_exporter_prometheus", &["api"]),
];

/// What the engine may not touch: it runs on whatever thread calls it.
const NOT_IN_ENGINE: &[&str] = &[
    "axum",
    "sqlx",
    "reqwest",
    "qdrant_client",
    "tokio::runtime",
    "tokio::task",
    "tokio::spawn",
    "tokio::time",
    "tokio::net",
    "tokio::fs",
];

const MAX_LINES: usize = 600;
/// Files known to be too long, to split; the list may only shrink.
const TOO_LONG_FOR_NOW: &[&str] = &[];

fn sources() -> Vec<PathBuf> {
    let mut files = Vec::new();
    let mut stack = vec![Path::new(env!("CARGO_MANIFEST_DIR")).join("src")];
    while let Some(dir) = stack.pop() {
        for item in std::fs::read_dir(&dir).unwrap() {
            let path = item.unwrap().path();
            if path.is_dir() {
                stack.push(path);
            } else if path.extension().is_some_and(|x| x == "rs") {
                files.push(path);
            }
        }
    }
    files.sort();
    files
}

fn relative(path: &Path) -> String {
    path.strip_prefix(env!("CARGO_MANIFEST_DIR"))
        .unwrap()
        .display()
        .to_string()
}

/// The top-level module a source file belongs to (`None`: lib.rs, main.rs).
fn module_of(path: &Path) -> Option<String> {
    let rel = relative(path);
    let inner = rel.strip_prefix("src/").unwrap();
    let first = inner.split('/').next().unwrap();
    let name = first.strip_suffix(".rs").unwrap_or(first);
    (!matches!(name, "lib" | "main")).then(|| name.to_string())
}

/// The code of a file without its comments (doc comments mention other modules freely).
fn code(text: &str) -> String {
    text.lines()
        .filter(|l| !l.trim_start().starts_with("//"))
        .collect::<Vec<_>>()
        .join("\n")
}

#[test]
fn modules_name_only_the_layers_below_them() {
    let allowed: BTreeMap<&str, &[&str]> = ALLOWED.iter().copied().collect();
    let reference = Regex::new(r"crate::([a-z_]+)").unwrap();
    let mut problems = Vec::new();
    for path in sources() {
        let Some(module) = module_of(&path) else {
            continue;
        };
        let Some(may) = allowed.get(module.as_str()) else {
            problems.push(format!(
                "{}: module `{module}` is not in the layering table",
                relative(&path)
            ));
            continue;
        };
        let text = code(&std::fs::read_to_string(&path).unwrap());
        if text.contains("crate::{") {
            problems.push(format!(
                "{}: a grouped `use crate::{{…}}` hides which modules it names; write one `use` per module",
                relative(&path)
            ));
        }
        let named: BTreeSet<&str> = reference
            .captures_iter(&text)
            .map(|c| c.get(1).unwrap().as_str())
            .collect();
        for target in named {
            if target != module && !may.contains(&target) {
                problems.push(format!(
                    "{}: `{module}` may not name `{target}`",
                    relative(&path)
                ));
            }
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn the_layering_table_has_no_cycle() {
    let allowed: BTreeMap<&str, &[&str]> = ALLOWED.iter().copied().collect();
    // Depth-first search for a back edge.
    fn visit<'a>(
        node: &'a str,
        allowed: &BTreeMap<&'a str, &'a [&'a str]>,
        path: &mut Vec<&'a str>,
        done: &mut BTreeSet<&'a str>,
    ) {
        if done.contains(node) {
            return;
        }
        assert!(
            !path.contains(&node),
            "cycle: {} -> {node}",
            path.join(" -> ")
        );
        path.push(node);
        for next in allowed.get(node).copied().unwrap_or_default() {
            visit(next, allowed, path, done);
        }
        path.pop();
        done.insert(node);
    }
    let mut done = BTreeSet::new();
    for &(module, _) in ALLOWED {
        visit(module, &allowed, &mut Vec::new(), &mut done);
    }
}

#[test]
fn outside_crates_stay_in_their_layer() {
    let mut problems = Vec::new();
    for path in sources() {
        let Some(module) = module_of(&path) else {
            continue;
        };
        let text = code(&std::fs::read_to_string(&path).unwrap());
        for (name, owners) in CONFINED {
            let used = Regex::new(&format!(r"\b{name}::")).unwrap().is_match(&text);
            if used && !owners.contains(&module.as_str()) {
                problems.push(format!("{}: `{name}` outside {owners:?}", relative(&path)));
            }
        }
        if ENGINE.contains(&module.as_str()) {
            for name in NOT_IN_ENGINE {
                if Regex::new(&format!(r"\b{name}\b")).unwrap().is_match(&text) {
                    problems.push(format!("{}: the engine uses `{name}`", relative(&path)));
                }
            }
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn source_files_stay_short() {
    let mut problems = Vec::new();
    for path in sources() {
        let rel = relative(&path);
        let lines = std::fs::read_to_string(&path).unwrap().lines().count();
        let listed = TOO_LONG_FOR_NOW.contains(&rel.as_str());
        if lines > MAX_LINES && !listed {
            problems.push(format!("{rel}: {lines} lines (more than {MAX_LINES})"));
        }
        if lines <= MAX_LINES && listed {
            problems.push(format!(
                "{rel}: {lines} lines now; take it off TOO_LONG_FOR_NOW"
            ));
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

/// The service's two halves: the engine façade answers over a generation and knows
/// nothing of tickets; the desk (store, pipeline, agents) calls the engine, never the
/// other way round.
#[test]
fn the_service_engine_knows_nothing_of_the_desk() {
    let forbidden =
        Regex::new(r"crate::store\b|crate::service::desk\b|super::desk\b|\bDesk\b").unwrap();
    let mut problems = Vec::new();
    for path in sources() {
        let rel = relative(&path);
        if !rel.starts_with("src/service/engine/") {
            continue;
        }
        let text = code(&std::fs::read_to_string(&path).unwrap());
        if let Some(m) = forbidden.find(&text) {
            problems.push(format!(
                "{rel}: the engine names `{}`; tickets and the store belong to the desk",
                m.as_str()
            ));
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

/// The submodules of one module (`index::generation`, `index::calibration`, ...) name
/// each other without a cycle, as the top-level modules do: a generation reads its stored
/// calibration; fitting one (`index::calibrate`) searches a generation, not the reverse.
#[test]
fn submodules_form_no_cycle() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut edges: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    let super_path = Regex::new(r"\bsuper::([a-z_]+)").unwrap();
    for path in sources() {
        let rel = path.strip_prefix(&src).unwrap().with_extension("");
        let mut parts: Vec<String> = rel
            .components()
            .map(|c| c.as_os_str().to_string_lossy().into_owned())
            .collect();
        if parts.last().is_some_and(|p| p == "mod") {
            parts.pop();
        }
        if parts.len() < 2 {
            continue;
        }
        let (top, sub) = (parts[0].clone(), parts[1].clone());
        let is_submodule = |name: &str| {
            let dir = src.join(&top);
            dir.join(format!("{name}.rs")).exists() || dir.join(name).join("mod.rs").exists()
        };
        // Tests may reach anywhere in their module.
        let full = std::fs::read_to_string(&path).unwrap();
        let text = code(full.split("#[cfg(test)]").next().unwrap());
        let mut named = BTreeSet::new();
        let crate_path = Regex::new(&format!(r"crate::{top}::([a-z_]+)")).unwrap();
        for c in crate_path.captures_iter(&text) {
            named.insert(c[1].to_string());
        }
        if parts.len() == 2 {
            for c in super_path.captures_iter(&text) {
                named.insert(c[1].to_string());
            }
        }
        let from = format!("{top}::{sub}");
        for name in named {
            if name != sub && is_submodule(&name) {
                edges
                    .entry(from.clone())
                    .or_default()
                    .insert(format!("{top}::{name}"));
            }
        }
    }
    fn visit(
        node: &str,
        edges: &BTreeMap<String, BTreeSet<String>>,
        path: &mut Vec<String>,
        done: &mut BTreeSet<String>,
    ) -> Option<String> {
        if done.contains(node) {
            return None;
        }
        if let Some(start) = path.iter().position(|p| p == node) {
            return Some(format!("{} -> {node}", path[start..].join(" -> ")));
        }
        path.push(node.to_string());
        for next in edges.get(node).into_iter().flatten() {
            if let Some(cycle) = visit(next, edges, path, done) {
                return Some(cycle);
            }
        }
        path.pop();
        done.insert(node.to_string());
        None
    }
    let mut done = BTreeSet::new();
    for node in edges.keys() {
        if let Some(cycle) = visit(node, &edges, &mut Vec::new(), &mut done) {
            panic!("module cycle: {cycle}");
        }
    }
}
