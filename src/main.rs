use clap::Parser;
use tracing_subscriber::EnvFilter;

#[tokio::main]
async fn main() -> std::process::ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info,ort=warn")),
        )
        .with_writer(std::io::stderr)
        .init();
    let cli = devicekb::cli::Cli::parse();
    match devicekb::cli::run(cli).await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            devicekb::cli::print_error(&e);
            std::process::ExitCode::FAILURE
        }
    }
}
