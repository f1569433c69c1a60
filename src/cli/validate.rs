use super::Dirs;
use crate::error::Result;
use crate::extract::load_kb;

#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(flatten)]
    dirs: Dirs,
}

pub fn run(args: Args) -> Result<()> {
    let config = args.dirs.config()?;
    let kb = load_kb(&config.kb_dir)?;
    println!(
        "{}: {} entries and {} models are valid",
        config.kb_dir.display(),
        kb.entries.len(),
        kb.catalogue.models().len()
    );
    Ok(())
}
