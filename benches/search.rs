//! Search latency per mode on the real KB (real model) and on synthetic 10k / 100k
//! entry KBs, the query-embedding cost on its own, the lexicon's cost beside no lexicon,
//! the glossary's cost on messages in the other language beside messages in the KB's,
//! and reindex throughput.
//!
//!     cargo bench --bench search            (or: make bench)
//!
//! Synthetic KBs use a hashing embedder for their vectors: the vector scan costs the
//! same for any 384-d vectors, and embedding 100k entries with the real model would
//! take hours on two cores. The real model's cost is measured separately.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use devicekb::config::Config;
use devicekb::embed::{Embedder, HashingEmbedder, OnnxEmbedder};
use devicekb::index::fusion::{fuse, FusionConfig, FusionMethod, RelevanceModel};
use devicekb::service::search::ValidSearch;
use devicekb::service::{build_generation, SearchMode, Service};

const QUERIES: &[&str] = &[
    "88 toner cyan bas",
    "bourrage papier tiroir 2",
    "les impressions sont pâles et délavées",
    "the printer shows 49.4C02 after a firmware update",
    "imprimente affiche des losanges",
    "Bonjour, depuis ce matin notre C750 affiche 201 bourrage papier et rien ne sort, merci de nous aider",
];

/// Customers' messages in English, the other language of the bundled KB (86 % French),
/// and their French peers: the glossary looks up the English ones' words.
const ENGLISH_TICKETS: &[&str] = &[
    "the prints come out faded and streaky on the left side",
    "paper keeps jamming in the second drawer since yesterday",
    "our printer is very slow and the screen shows a warning about the toner",
];
const FRENCH_TICKETS: &[&str] = &[
    "les impressions sortent pâles avec des traînées à gauche",
    "le papier se coince dans le deuxième tiroir depuis hier",
    "notre imprimante est très lente et l'écran affiche un avertissement sur le toner",
];

/// A word no message had before (letters only, four or more), so its vector is not cached.
fn new_word(n: u64) -> String {
    let letters: String = n
        .to_string()
        .bytes()
        .map(|d| char::from(b'a' + (d - b'0')))
        .collect();
    format!("zxq{letters}")
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
}

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn service(
    rt: &tokio::runtime::Runtime,
    kb: &Path,
    data: &Path,
    embedder: Arc<dyn Embedder>,
    rebuild: bool,
) -> Arc<Service> {
    let mut config = Config::from_env().unwrap();
    config.kb_dir = kb.to_path_buf();
    config.data_dir = data.to_path_buf();
    config.qdrant = None;
    rt.block_on(async {
        if rebuild {
            let (c, e, h) = (
                config.clone(),
                embedder.clone(),
                tokio::runtime::Handle::current(),
            );
            tokio::task::spawn_blocking(move || {
                build_generation(&c, e.as_ref(), None, &h, &|_| {})
            })
            .await
            .unwrap()
            .unwrap();
        }
        Service::start(config, embedder).await.unwrap()
    })
}

fn real_model() -> Arc<OnnxEmbedder> {
    let c = Config::from_env().unwrap();
    Arc::new(
        OnnxEmbedder::load(&c.model_dir, &c.ort_dylib, c.embed_threads)
            .expect("run `make setup` first"),
    )
}

fn search(service: &Service, query: &str, mode: SearchMode) {
    let q = ValidSearch {
        query: query.to_string(),
        model_filter: None,
        limit: 10,
        mode,
    };
    let r = service.engine.search_blocking(&q).unwrap();
    assert!(r.count > 0 || mode != SearchMode::Hybrid);
}

fn real_kb(c: &mut Criterion) {
    let rt = runtime();
    let model = real_model();
    let svc = service(
        &rt,
        &repo().join("kb"),
        &repo().join("target/bench-data/real"),
        model.clone(),
        true,
    );
    let mut g = c.benchmark_group("real_kb");
    g.measurement_time(Duration::from_secs(5));
    for (name, mode) in [
        ("bm25", SearchMode::Bm25),
        ("vector_cached", SearchMode::Vector),
        ("hybrid_cached", SearchMode::Hybrid),
    ] {
        for q in QUERIES {
            search(&svc, q, mode); // warm the query-embedding cache
        }
        let mut i = 0;
        g.bench_function(name, |b| {
            b.iter(|| {
                search(&svc, QUERIES[i % QUERIES.len()], mode);
                i += 1;
            })
        });
    }
    // Hybrid with the query embedding computed every time (a query never seen before).
    let mut n = 0u64;
    g.bench_function("hybrid_uncached", |b| {
        b.iter(|| {
            n += 1;
            search(
                &svc,
                &format!("{} {n}", QUERIES[n as usize % QUERIES.len()]),
                SearchMode::Hybrid,
            );
        })
    });
    g.finish();

    // The glossary: English messages on the French KB (their words the KB lacks looked
    // up, from the cache once seen) beside French ones (nothing looked up); then each
    // message with a word never seen before, which an English message embeds (one more
    // model run than the French one, which only embeds the whole message).
    let mut g = c.benchmark_group("glossary");
    g.measurement_time(Duration::from_secs(5));
    for (name, tickets) in [
        ("french_cached", FRENCH_TICKETS),
        ("english_cached", ENGLISH_TICKETS),
    ] {
        for t in tickets {
            search(&svc, t, SearchMode::Hybrid);
        }
        let mut i = 0;
        g.bench_function(name, |b| {
            b.iter(|| {
                search(&svc, tickets[i % tickets.len()], SearchMode::Hybrid);
                i += 1;
            })
        });
    }
    for (name, tickets) in [
        ("french_new_word", FRENCH_TICKETS),
        ("english_new_word", ENGLISH_TICKETS),
    ] {
        let mut n = 0u64;
        g.bench_function(name, |b| {
            b.iter(|| {
                n += 1;
                let message = format!("{} {}", tickets[n as usize % tickets.len()], new_word(n));
                search(&svc, &message, SearchMode::Hybrid);
            })
        });
    }
    g.finish();

    let mut g = c.benchmark_group("query_embedding");
    g.measurement_time(Duration::from_secs(5));
    for q in [QUERIES[0], QUERIES[5]] {
        let tokens = model.token_ids(&format!("query: {q}")).unwrap().len();
        g.bench_with_input(
            BenchmarkId::new("e5_small", format!("{tokens}_tokens")),
            q,
            |b, q| b.iter(|| model.embed_queries(&[q]).unwrap()),
        );
    }
    g.finish();
}

const WORDS: &[&str] = &[
    "imprimante",
    "bourrage",
    "papier",
    "tiroir",
    "toner",
    "cartouche",
    "unité",
    "fusion",
    "écran",
    "message",
    "erreur",
    "réseau",
    "pilote",
    "impression",
    "pâle",
    "traînée",
    "couleur",
    "noir",
    "bac",
    "sortie",
    "capot",
    "courroie",
    "transfert",
    "photoconducteur",
    "rouleau",
    "nettoyer",
    "remplacer",
    "vérifier",
    "redémarrer",
    "printer",
    "jam",
    "tray",
    "paper",
    "driver",
    "network",
    "faded",
    "streaks",
    "replace",
    "drum",
    "fuser",
    "adresse",
    "ip",
    "wifi",
    "usb",
    "câble",
    "page",
    "recto",
    "verso",
    "enveloppe",
    "étiquette",
    "qualité",
];

/// A synthetic KB of `n` entries, written once and cached under target/.
fn synthetic(rt: &tokio::runtime::Runtime, n: usize) -> Arc<Service> {
    let root = repo().join(format!("target/bench-data/synthetic-{n}"));
    let (kb, data) = (root.join("kb"), root.join("data"));
    let ready = data.join("CURRENT").exists();
    if !ready {
        let _ = std::fs::remove_dir_all(&root);
        std::fs::create_dir_all(kb.join("entries/synthetic")).unwrap();
        std::fs::create_dir_all(kb.join("catalogue")).unwrap();
        std::fs::copy(
            repo().join("kb/catalogue/models.toml"),
            kb.join("catalogue/models.toml"),
        )
        .unwrap();
        let mut seed = 0x2545F4914F6CDD1Du64;
        let mut next = move || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        };
        for i in 0..n {
            let mut words = |k: usize| {
                (0..k)
                    .map(|_| WORDS[(next() % WORDS.len() as u64) as usize])
                    .collect::<Vec<_>>()
                    .join(" ")
            };
            let text = format!(
                "id = \"syn-{i}\"\ntitle = \"{}\"\nlang = \"fr\"\ncategory = \"general\"\nerror_codes = [\"{}\"]\ndescription = \"{}\"\nsteps = [\"{}\", \"{}\"]\nsource = \"synthetic\"\n",
                words(6), i % 997, words(40), words(8), words(8)
            );
            std::fs::write(kb.join(format!("entries/synthetic/syn-{i}.toml")), text).unwrap();
        }
    }
    service(rt, &kb, &data, Arc::new(HashingEmbedder::new(384)), !ready)
}

fn synthetic_kbs(c: &mut Criterion) {
    let rt = runtime();
    for n in [10_000, 100_000] {
        let svc = synthetic(&rt, n);
        let mut g = c.benchmark_group(format!("synthetic_{n}"));
        g.sample_size(30).measurement_time(Duration::from_secs(8));
        for (name, mode) in [
            ("bm25", SearchMode::Bm25),
            ("vector_cached", SearchMode::Vector),
            ("hybrid_cached", SearchMode::Hybrid),
        ] {
            let mut i = 0;
            g.bench_function(name, |b| {
                b.iter(|| {
                    search(&svc, QUERIES[i % QUERIES.len()], mode);
                    i += 1;
                })
            });
        }
        g.finish();
    }
}

fn reindex_throughput(c: &mut Criterion) {
    let rt = runtime();
    let model: Arc<dyn Embedder> = real_model();
    // 24 real entries, embedded from scratch each time (fresh data dir: nothing to reuse).
    let kb = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(kb.path().join("entries/x")).unwrap();
    std::fs::create_dir_all(kb.path().join("catalogue")).unwrap();
    std::fs::copy(
        repo().join("kb/catalogue/models.toml"),
        kb.path().join("catalogue/models.toml"),
    )
    .unwrap();
    let mut files: Vec<_> = std::fs::read_dir(repo().join("kb/entries/lexmark-c750"))
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .collect();
    files.sort();
    for f in files.iter().step_by(5).take(24) {
        std::fs::copy(f, kb.path().join("entries/x").join(f.file_name().unwrap())).unwrap();
    }
    let mut g = c.benchmark_group("reindex");
    g.sample_size(10).throughput(Throughput::Elements(24));
    g.bench_function("24_entries_with_embedding", |b| {
        b.iter(|| {
            let data = tempfile::tempdir().unwrap();
            let mut config = Config::from_env().unwrap();
            config.kb_dir = kb.path().to_path_buf();
            config.data_dir = data.path().to_path_buf();
            let (m, h) = (model.clone(), rt.handle().clone());
            rt.block_on(async move {
                tokio::task::spawn_blocking(move || {
                    build_generation(&config, m.as_ref(), None, &h, &|_| {})
                })
                .await
                .unwrap()
                .unwrap()
            });
        })
    });
    g.finish();
}

/// Customers' tickets that say the lexicon's words (see `kb::lexicon`).
const CUSTOMER_TICKETS: &[&str] = &[
    "Hi, when drawer 1 runs out the printer just stops, it should switch over to the other tray",
    "20 copies sortent pas dans l'ordre, faut tout trier a la main",
    "the output tray is full and nothing prints any more, the display says ready",
    "Bonjour, l'écran reste vide, pas de message, la cassette est pleine de papier",
];

/// `dir` copied into `to`, files and folders.
fn copy_dir(dir: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(dir).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).unwrap();
        }
    }
}

/// Keyword search on the bundled KB with the product's lexicon beside the same KB
/// searching without one (its own file says `builtin = false`), in the same run: what
/// the lexicon's matching and extra clauses cost a query. Hashing vectors: only BM25 runs.
fn lexicon(c: &mut Criterion) {
    let rt = runtime();
    let root = repo().join("target/bench-data/lexicon");
    let _ = std::fs::remove_dir_all(&root);
    let shipped_kb = root.join("shipped/kb");
    copy_dir(&repo().join("kb"), &shipped_kb);
    let none_kb = root.join("none/kb");
    copy_dir(&repo().join("kb"), &none_kb);
    std::fs::write(none_kb.join("catalogue/lexicon.toml"), "builtin = false\n").unwrap();
    let embedder: Arc<dyn Embedder> = Arc::new(HashingEmbedder::new(384));
    let mut g = c.benchmark_group("lexicon");
    g.measurement_time(Duration::from_secs(5));
    for (name, kb) in [("bm25_shipped", &shipped_kb), ("bm25_none", &none_kb)] {
        let data = kb.parent().unwrap().join("data");
        let svc = service(&rt, kb, &data, embedder.clone(), true);
        let mut i = 0;
        g.bench_function(name, |b| {
            b.iter(|| {
                search(
                    &svc,
                    CUSTOMER_TICKETS[i % CUSTOMER_TICKETS.len()],
                    SearchMode::Bm25,
                );
                i += 1;
            })
        });
    }
    g.finish();
}

/// Fusion alone, standardised scores beside reciprocal ranks on the same 50 + 50
/// candidates (half of them found by both retrievers), so the two figures compare on
/// any machine.
fn fusion_methods(c: &mut Criterion) {
    let bm25: Vec<(u32, f32)> = (0..50).map(|i| (i, 30.0 - i as f32 * 0.5)).collect();
    let vector: Vec<(u32, f32)> = (25..75).map(|i| (i, 0.92 - i as f32 * 0.001)).collect();
    let model = RelevanceModel::default();
    let mut g = c.benchmark_group("fusion");
    for method in [FusionMethod::Zscore, FusionMethod::Rrf] {
        let config = FusionConfig {
            method,
            ..FusionConfig::default()
        };
        g.bench_function(method.as_str(), |b| {
            b.iter(|| fuse(&bm25, &vector, &[3], &config, &model))
        });
    }
    g.finish();
}

criterion_group!(
    benches,
    fusion_methods,
    lexicon,
    real_kb,
    synthetic_kbs,
    reindex_throughput
);
criterion_main!(benches);
