//! The real `devicekb` binary as a child process: started with the test's settings only,
//! killed (SIGKILL) when dropped, and its server's address read from its log.

use std::io::BufRead;
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// A child process killed (SIGKILL) when dropped, so a failing test leaves none behind.
pub struct Child(pub std::process::Child);

impl Drop for Child {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// `devicekb ARGS --kb KB --data DATA` with the test's settings only: no database, Qdrant
/// or LLM server, nor admin key, from the environment. A server's data directory starts
/// with the labelled tickets' vectors, as a test service's does (`start_service_with`).
pub fn devicekb(args: &[&str], kb: &Path, data: &Path) -> Command {
    if args.first() == Some(&"serve") {
        super::seed_training_vectors(data);
    }
    let mut command = Command::new(env!("CARGO_BIN_EXE_devicekb"));
    command
        .args(args)
        .arg("--kb")
        .arg(kb)
        .arg("--data")
        .arg(data)
        .env("NO_COLOR", "1")
        .env_remove("DATABASE_URL")
        .env_remove("QDRANT_URL")
        .env_remove("LLM_BASE_URL")
        .env_remove("DEVICEKB_ADMIN_KEY")
        .stdin(Stdio::null());
    command
}

/// Polls `ready` every 20 ms until it gives a value or `limit` passes.
pub fn poll<T>(limit: Duration, what: &str, mut ready: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + limit;
    loop {
        if let Some(value) = ready() {
            return value;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// The address in the server's "devicekb is listening" log line (text or JSON).
pub fn listening_addr(line: &str) -> Option<String> {
    if !line.contains("devicekb is listening") {
        return None;
    }
    let at = line
        .find("addr=")
        .map(|at| at + "addr=".len())
        .or_else(|| line.find("\"addr\":\"").map(|at| at + "\"addr\":\"".len()))?;
    Some(
        line[at..]
            .chars()
            .take_while(|c| c.is_ascii_digit() || *c == '.' || *c == ':')
            .collect(),
    )
}

/// A server started by `command` (`devicekb serve --addr 127.0.0.1:0 ...`), once it
/// listens: the child and the lines it logged until then. Its log keeps being drained so
/// it never blocks on a full pipe.
pub fn serve(command: Command) -> (Child, String, Vec<String>) {
    let (child, base, log, _later) = serve_with_log(command);
    (child, base, log)
}

/// `serve`, with the lines the server logs from then on.
pub fn serve_with_log(
    mut command: Command,
) -> (Child, String, Vec<String>, mpsc::Receiver<String>) {
    let mut serve = Child(
        command
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("devicekb serve starts"),
    );
    let (lines_tx, lines) = mpsc::channel::<String>();
    let stderr = serve.0.stderr.take().expect("the server's stderr");
    std::thread::spawn(move || {
        for line in std::io::BufReader::new(stderr)
            .lines()
            .map_while(Result::ok)
        {
            // The receiver is gone once the test has the address: keep reading anyway.
            let _ = lines_tx.send(line);
        }
    });
    let mut log = Vec::new();
    let addr = poll(Duration::from_secs(300), "the server to listen", || {
        if let Ok(Some(status)) = serve.0.try_wait() {
            panic!("the server exited ({status}):\n{}", log.join("\n"));
        }
        while let Ok(line) = lines.try_recv() {
            let addr = listening_addr(&line);
            log.push(line);
            if addr.is_some() {
                return addr;
            }
        }
        None
    });
    (serve, format!("http://{addr}"), log, lines)
}
