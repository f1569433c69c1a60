use tokio::net::TcpListener;

use super::{load_embedder, Dirs};
use crate::error::{Error, Result};
use crate::service::Service;

#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(flatten)]
    dirs: Dirs,
    /// Address to listen on (DEVICEKB_ADDR, default 127.0.0.1:8000).
    #[arg(long)]
    addr: Option<String>,
}

pub async fn run(args: Args) -> Result<()> {
    let mut config = args.dirs.config()?;
    if let Some(addr) = args.addr {
        config.addr = addr;
    }
    let embedder = load_embedder(&config)?;
    let addr = config.addr.clone();
    let service = Service::start(config, embedder).await?;
    let listener = TcpListener::bind(&addr)
        .await
        .map_err(|e| Error::Config(format!("cannot listen on {addr}: {e}")))?;
    let generation = service.engine.generation();
    tracing::info!(
        addr = %listener.local_addr().map(|a| a.to_string()).unwrap_or(addr),
        generation = %generation.name,
        entries = generation.entries.len(),
        vectors = generation.vectors.backend(),
        "devicekb is listening"
    );
    // Train the ticket classifier now rather than on the first ticket, and again as soon
    // as a reindex switches generations: a ticket arriving before it is trained is
    // answered at once but classified only once it is.
    let warm = service.clone();
    tokio::spawn(async move {
        let mut switched = warm.engine.watch_generation();
        loop {
            if let Err(e) = warm.engine.classifier().await {
                tracing::warn!(error = %e.chain(), "the ticket classifier could not be trained yet");
            }
            if switched.changed().await.is_err() {
                return;
            }
        }
    });
    crate::api::serve(listener, service).await
}
