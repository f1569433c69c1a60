use std::path::PathBuf;

use crate::error::{Error, Result};
use std::sync::Arc;

use crate::extract::Extractor;
use crate::kb::import::{
    import_csv_files, import_jsonl_files, import_seed, EntitiesRead, EntityReader,
    EntityReaderMaker, FieldMap, ImportOptions, WriteMode,
};
use crate::kb::Catalogue;
use crate::kb::Lang;

#[derive(Debug, clap::Subcommand)]
pub enum Command {
    /// The earlier project's seed file (printer_models + knowledge_base).
    Seed {
        file: PathBuf,
        /// KB directory to write into (created if absent).
        #[arg(long)]
        out: PathBuf,
        /// Language of the seed entries.
        #[arg(long, default_value = "fr")]
        lang: String,
        #[command(flatten)]
        update: UpdateOptions,
    },
    /// JSON records: {"title", "text"} required ("id" made from the title when no record
    /// has one). JSON Lines (one a line), one JSON array, objects one after another, or
    /// one object whose list holds them (a help centre's API page). Several files (every
    /// page of an export) make one collection.
    #[command(alias = "json")]
    Jsonl {
        #[arg(required = true, value_name = "FILE")]
        files: Vec<PathBuf>,
        #[arg(long)]
        out: PathBuf,
        /// Sub-directory of entries/ to write into.
        #[arg(long, default_value = "imported")]
        collection: String,
        #[command(flatten)]
        fields: FieldOptions,
        #[command(flatten)]
        update: UpdateOptions,
        /// Import the records the export marks as drafts or unpublished (`draft`,
        /// `published`, `status`) too; they are left out otherwise.
        #[arg(long)]
        include_drafts: bool,
    },
    /// CSV, one entry a row under a header row naming the same fields as JSON Lines
    /// (title, text required); `;`, `,` or tab separated; UTF-8, UTF-16 or
    /// Windows-1252. Several files make one collection.
    Csv {
        #[arg(required = true, value_name = "FILE")]
        files: Vec<PathBuf>,
        #[arg(long)]
        out: PathBuf,
        /// Sub-directory of entries/ to write into.
        #[arg(long, default_value = "imported")]
        collection: String,
        #[command(flatten)]
        fields: FieldOptions,
        #[command(flatten)]
        update: UpdateOptions,
        /// Import the records the export marks as drafts or unpublished (`draft`,
        /// `published`, `status`) too; they are left out otherwise.
        #[arg(long)]
        include_drafts: bool,
    },
}

/// How the export's own field (or column) names are read.
#[derive(Debug, clap::Args)]
pub struct FieldOptions {
    /// Read the KB's field OURS from the file's field THEIRS (`--field title=question`);
    /// repeat it, or separate pairs with commas.
    #[arg(long = "field", value_name = "OURS=THEIRS")]
    field: Vec<String>,
    /// Leave out the file's fields that are neither the KB's nor mapped by --field (they
    /// are named in the output), instead of refusing the file.
    #[arg(long)]
    ignore_unknown: bool,
}

/// Whether the import may replace what an earlier import of the collection wrote.
#[derive(Debug, clap::Args)]
pub struct UpdateOptions {
    /// Make the collection what the files hold now (a newer file of the same export): its
    /// entries added or rewritten, those an earlier import wrote and the files no longer
    /// have removed (nothing removed when the files are not the whole export). An entry
    /// changed or removed by hand stays so where the export did not change it, and is
    /// refused by name where it did; a file no import wrote is kept.
    #[arg(long)]
    update: bool,
    /// With --update: take the export's entries over those changed by hand since the last
    /// import (a copy of each is kept in .import-replaced/ beside entries/).
    #[arg(long, requires = "update")]
    replace_edited: bool,
}

impl UpdateOptions {
    fn mode(&self) -> WriteMode {
        if self.update {
            WriteMode::Update {
                replace_edited: self.replace_edited,
            }
        } else {
            WriteMode::Add
        }
    }
}

impl FieldOptions {
    fn map(&self) -> Result<FieldMap> {
        FieldMap::new(&self.field, self.ignore_unknown)
    }
}

/// The extractor, over the catalogue the import reads (the product's and the target
/// KB's), reading an imported entry's words for the models and error codes its record
/// does not give.
fn reader() -> EntityReaderMaker {
    Arc::new(|catalogue: &Catalogue| -> EntityReader {
        let extractor = Extractor::with_catalogue(catalogue.clone());
        Arc::new(move |text: &str| {
            let found = extractor.extract(text);
            EntitiesRead {
                models: found.models().into_iter().map(str::to_string).collect(),
                error_codes: found.error_codes,
            }
        })
    })
}

pub fn run(command: Command) -> Result<()> {
    let options = |fields: &FieldOptions, update: &UpdateOptions, drafts: bool| {
        Ok::<_, Error>(ImportOptions {
            fields: fields.map()?,
            entities: Some(reader()),
            mode: update.mode(),
            include_drafts: drafts,
        })
    };
    let report = match command {
        Command::Seed {
            file,
            out,
            lang,
            update,
        } => {
            let lang = Lang::parse(&lang)
                .ok_or_else(|| Error::invalid("--lang", format!("`{lang}` is not fr or en")))?;
            import_seed(&file, &out, lang, update.mode())?
        }
        Command::Jsonl {
            files,
            out,
            collection,
            fields,
            update,
            include_drafts,
        } => import_jsonl_files(
            &files,
            &out,
            &collection,
            &options(&fields, &update, include_drafts)?,
        )?,
        Command::Csv {
            files,
            out,
            collection,
            fields,
            update,
            include_drafts,
        } => import_csv_files(
            &files,
            &out,
            &collection,
            &options(&fields, &update, include_drafts)?,
        )?,
    };
    match &report.changes {
        Some(c) => println!(
            "updated the collection `{}` of {}: {} added, {} changed, {} unchanged, {} removed ({} new models)",
            report.collection,
            report.out_dir.display(),
            c.added,
            c.changed,
            c.unchanged,
            c.removed,
            report.models_added
        ),
        None => println!(
            "wrote {} entries ({} new models) into {}",
            report.entries_written,
            report.models_added,
            report.out_dir.display()
        ),
    }
    for note in &report.notes {
        println!("note: {note}");
    }
    Ok(())
}
