//! A real OpenAI-compatible LLM server for the tests: llama.cpp's `llama-server` with
//! SmolLM2-135M, both installed by `scripts/setup_llm.sh` (which `make test` runs). Started
//! on a free loopback port, killed when dropped.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::Duration;

use super::process::{poll, Child};

/// A running server and its OpenAI base URL (`http://127.0.0.1:PORT/v1`).
pub struct LlmServer {
    pub base_url: String,
    _child: Child,
}

/// Where setup put the server and the model: `LLAMA_SERVER` and `LLM_TEST_MODEL_FILE`, or
/// the cache's `llm/` folder.
fn installed() -> (PathBuf, PathBuf) {
    let cache = std::env::var_os("DEVICEKB_CACHE")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(std::env::var_os("HOME").expect("HOME is set")).join(".cache/devicekb")
        });
    let server = std::env::var_os("LLAMA_SERVER")
        .map(PathBuf::from)
        .unwrap_or_else(|| cache.join("llm/bin/llama-server"));
    let model = std::env::var_os("LLM_TEST_MODEL_FILE")
        .map(PathBuf::from)
        .unwrap_or_else(|| cache.join("llm/model.gguf"));
    assert!(
        server.is_file() && model.is_file(),
        "the real-LLM test needs llama-server and its model ({} and {}); run `bash scripts/setup_llm.sh` (make test does)",
        server.display(),
        model.display()
    );
    (server, model)
}

impl LlmServer {
    /// Starts the server and waits until `GET /health` answers 200.
    pub fn start() -> LlmServer {
        let (server, model) = installed();
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free port")
            .port();
        let child = Command::new(server)
            .arg("-m")
            .arg(model)
            .args(["--host", "127.0.0.1", "--port", &port.to_string()])
            // One thread, waiting passively: with two, llama.cpp's threads spin at each
            // barrier, and beside the other tests on a 2-core machine a token took 2 s.
            .env("OMP_WAIT_POLICY", "PASSIVE")
            .args([
                "-t",
                "1",
                "-c",
                "2048",
                "-np",
                "1",
                "--no-webui",
                "--offline",
            ])
            .args(["-a", "smollm2"])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("llama-server starts");
        let child = Child(child);
        poll(Duration::from_secs(60), "llama-server's /health", || {
            healthy(port).then_some(())
        });
        LlmServer {
            base_url: format!("http://127.0.0.1:{port}/v1"),
            _child: child,
        }
    }
}

/// `GET /health` answers 200 (the server answers 503 while it loads the model).
fn healthy(port: u16) -> bool {
    let Ok(mut stream) = TcpStream::connect(("127.0.0.1", port)) else {
        return false;
    };
    let _ = stream.set_read_timeout(Some(Duration::from_secs(2)));
    if stream
        .write_all(b"GET /health HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n")
        .is_err()
    {
        return false;
    }
    let mut head = [0u8; 12];
    stream.read_exact(&mut head).is_ok() && head.ends_with(b" 200")
}
