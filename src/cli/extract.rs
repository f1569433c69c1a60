use std::io::Read;

use super::Dirs;
use crate::error::{Error, Result};
use crate::extract::{EntityKind, Extractor};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The text, or `-` to read it from standard input.
    text: String,
    #[command(flatten)]
    dirs: Dirs,
    /// Print the full answer as JSON (the shape of `POST /extract`).
    #[arg(long)]
    json: bool,
}

pub fn run(args: Args) -> Result<()> {
    let text = if args.text == "-" {
        let mut buf = String::new();
        std::io::stdin()
            .read_to_string(&mut buf)
            .map_err(|e| Error::InvalidInput {
                field: "stdin".into(),
                message: format!("cannot read the text: {e}"),
            })?;
        buf
    } else {
        args.text
    };
    let config = args.dirs.config()?;
    let extractor = Extractor::from_kb_dir(&config.kb_dir)?;
    let x = extractor.extract(&text);
    if args.json {
        println!("{}", serde_json::to_string_pretty(&x).unwrap_or_default());
        return Ok(());
    }
    let or_none = |v: &Option<String>| v.clone().unwrap_or_else(|| "-".into());
    println!("model:        {}", or_none(&x.model));
    println!("manufacturer: {}", or_none(&x.manufacturer));
    println!(
        "error codes:  {}",
        if x.error_codes.is_empty() {
            "-".into()
        } else {
            x.error_codes.join(", ")
        }
    );
    println!("serial:       {}", or_none(&x.serial));
    for e in &x.entities {
        let kind = match e.kind {
            EntityKind::Model => "model",
            EntityKind::Manufacturer => "manufacturer",
            EntityKind::ErrorCode => "error_code",
            EntityKind::Serial => "serial",
        };
        println!(
            "  {kind:<13} {:<28} {:>5}..{:<5} {:.2}  {:?}",
            e.normalized, e.start, e.end, e.confidence, e.value
        );
    }
    Ok(())
}
