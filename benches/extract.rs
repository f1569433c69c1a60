//! Extractor speed on one core: throughput over the 250 realistic labelled messages
//! (MB/s), one short message (µs) and one long e-mail thread; and the check for a message
//! in another language over the same messages, beside `whatlang` alone.
//!
//!     cargo bench --bench extract

use std::path::Path;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use devicekb::extract::eval::load_messages;
use devicekb::extract::Extractor;

fn extractor() -> Extractor {
    Extractor::from_kb_dir(&Path::new(env!("CARGO_MANIFEST_DIR")).join("kb")).expect("KB loads")
}

fn bench(c: &mut Criterion) {
    let extractor = extractor();
    let messages: Vec<String> = load_messages(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/extraction_messages.jsonl"),
    )
    .expect("labelled set loads")
    .into_iter()
    .map(|m| m.text)
    .collect();
    let bytes: usize = messages.iter().map(String::len).sum();

    let mut group = c.benchmark_group("extract");
    group.throughput(Throughput::Bytes(bytes as u64));
    group.bench_function("labelled_set_250_messages", |b| {
        b.iter(|| {
            for m in &messages {
                std::hint::black_box(extractor.extract(m));
            }
        })
    });

    let short = "Bonjour, notre Lexmark C750 affiche 88 Toner cyan bas depuis ce matin.";
    group.throughput(Throughput::Bytes(short.len() as u64));
    group.bench_function("short_message", |b| {
        b.iter(|| std::hint::black_box(extractor.extract(short)))
    });

    // A long thread: the same reply quoted five times, signatures, HTML.
    let one = messages
        .iter()
        .filter(|m| m.len() > 200)
        .take(12)
        .cloned()
        .collect::<Vec<_>>()
        .join("\n> ");
    let long = format!(
        "<div>Bonjour,</div><div>toujours le même problème.</div>\n{}\n--\nJean Dupont | Service informatique | 04 78 12 34 56 | 12 rue de la République, 69002 Lyon",
        [one.as_str(); 5].join("\n\n-----Original Message-----\n> ")
    );
    group.throughput(Throughput::Bytes(long.len() as u64));
    group.bench_function(format!("email_thread_{}kb", long.len() / 1024), |b| {
        b.iter(|| std::hint::black_box(extractor.extract(&long)))
    });
    group.finish();

    // Telling a message in another language, beside `whatlang`'s detection alone (the
    // reference: what the check cost before it also read words and scripts).
    let mut group = c.benchmark_group("language");
    group.throughput(Throughput::Bytes(bytes as u64));
    group.bench_function("unsupported_language_250_messages", |b| {
        b.iter(|| {
            for m in &messages {
                std::hint::black_box(devicekb::kb::lang::unsupported_language(m));
            }
        })
    });
    group.bench_function("whatlang_detect_250_messages", |b| {
        b.iter(|| {
            for m in &messages {
                std::hint::black_box(whatlang::detect(m));
            }
        })
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
