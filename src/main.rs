use std::io::IsTerminal;

use clap::Parser;
use tracing_subscriber::EnvFilter;

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let filter =
        EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info,ort=warn"));
    let logs = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        // Colours on a terminal only: a log file or a shipper gets plain text.
        .with_ansi(std::io::stderr().is_terminal());
    // One JSON object a line for log shippers (DEVICEKB_LOG_FORMAT=json), text otherwise.
    match std::env::var("DEVICEKB_LOG_FORMAT").as_deref() {
        Ok("json") => logs.json().init(),
        Ok("text") | Ok("") | Err(_) => logs.init(),
        Ok(other) => {
            eprintln!("error: DEVICEKB_LOG_FORMAT={other}: expected text or json");
            return std::process::ExitCode::FAILURE;
        }
    }
    let cli = devicekb::cli::Cli::parse();
    match devicekb::cli::run(cli).await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            devicekb::cli::print_error(&e);
            std::process::ExitCode::FAILURE
        }
    }
}
