//! A MySQL server that requires TLS, as managed databases do, is reached over TLS: the
//! test starts its own MariaDB with a certificate from a throw-away CA and
//! `require_secure_transport`, then opens the store on it with `ssl-mode=verify_identity`
//! and that CA, and checks that a connection without TLS is refused by the server.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use sqlx::Connection;

/// The server process, stopped at the end of the test whatever happens.
struct Server {
    child: Child,
    port: u16,
    dir: tempfile::TempDir,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn run(program: &str, args: &[&str], dir: &Path) {
    let output = Command::new(program)
        .args(args)
        .current_dir(dir)
        .output()
        .unwrap_or_else(|e| {
            panic!("{program} runs (the TLS test needs MariaDB's server and openssl): {e}")
        });
    assert!(
        output.status.success(),
        "{program} {args:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
}

/// A CA, and a certificate it signs for localhost and 127.0.0.1.
fn certificates(dir: &Path) {
    let subj_ca = "/CN=devicekb-test-ca";
    run(
        "openssl",
        &[
            "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", subj_ca,
            "-keyout", "ca.key", "-out", "ca.pem",
        ],
        dir,
    );
    run(
        "openssl",
        &[
            "req",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-subj",
            "/CN=localhost",
            "-keyout",
            "server.key",
            "-out",
            "server.csr",
        ],
        dir,
    );
    std::fs::write(
        dir.join("ext.cnf"),
        "subjectAltName=DNS:localhost,IP:127.0.0.1\n",
    )
    .unwrap();
    run(
        "openssl",
        &[
            "x509",
            "-req",
            "-in",
            "server.csr",
            "-CA",
            "ca.pem",
            "-CAkey",
            "ca.key",
            "-CAcreateserial",
            "-days",
            "2",
            "-extfile",
            "ext.cnf",
            "-out",
            "server.pem",
        ],
        dir,
    );
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn mariadbd() -> PathBuf {
    [
        "/usr/sbin/mariadbd",
        "/usr/sbin/mysqld",
        "/usr/bin/mariadbd",
    ]
    .iter()
    .map(PathBuf::from)
    .find(|p| p.exists())
    .expect("MariaDB's server binary (Debian's mariadb-server)")
}

fn start() -> Server {
    let dir = tempfile::tempdir().unwrap();
    certificates(dir.path());
    let data = dir.path().join("data");
    let data_arg = format!("--datadir={}", data.display());
    run(
        "mariadb-install-db",
        &[
            "--no-defaults",
            &data_arg,
            "--user=root",
            "--auth-root-authentication-method=normal",
            "--skip-test-db",
        ],
        dir.path(),
    );
    let port = free_port();
    let d = dir.path().display().to_string();
    let child = Command::new(mariadbd())
        .args([
            "--no-defaults".to_string(),
            data_arg,
            "--user=root".into(),
            format!("--port={port}"),
            "--bind-address=127.0.0.1".into(),
            format!("--socket={d}/sock"),
            format!("--pid-file={d}/pid"),
            format!("--ssl-cert={d}/server.pem"),
            format!("--ssl-key={d}/server.key"),
            format!("--ssl-ca={d}/ca.pem"),
            "--require-secure-transport=ON".into(),
            format!("--log-error={d}/error.log"),
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("mariadbd starts");
    let server = Server { child, port, dir };
    let deadline = Instant::now() + Duration::from_secs(60);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            Instant::now() < deadline,
            "the TLS server did not listen: {}",
            std::fs::read_to_string(server.dir.path().join("error.log")).unwrap_or_default()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    server
}

#[tokio::test]
async fn the_store_reaches_a_server_that_requires_tls() {
    let server = start();
    let ca = server.dir.path().join("ca.pem");
    let base = format!("mysql://root@127.0.0.1:{}", server.port);
    let tls = format!("ssl-mode=verify_identity&ssl-ca={}", ca.display());

    // The server refuses a connection without TLS (MariaDB says "access denied"), and the
    // same credentials get in with it below: what follows did use TLS.
    let plain = sqlx::MySqlConnection::connect(&format!("{base}/mysql?ssl-mode=disabled")).await;
    plain.expect_err("the server requires TLS");

    let mut admin = sqlx::MySqlConnection::connect(&format!("{base}/mysql?{tls}"))
        .await
        .expect("a TLS connection verified against the CA");
    let (cipher,): (String,) = sqlx::query_as("SELECT VARIABLE_VALUE FROM information_schema.SESSION_STATUS WHERE VARIABLE_NAME = 'Ssl_cipher'")
        .fetch_one(&mut admin)
        .await
        .unwrap();
    assert!(!cipher.is_empty(), "the session is encrypted");
    sqlx::query("CREATE DATABASE devicekb CHARACTER SET utf8mb4")
        .execute(&mut admin)
        .await
        .unwrap();

    // What an operator writes in DATABASE_URL for a managed MySQL.
    let url = format!("{base}/devicekb?{tls}");
    let store = devicekb::store::connect(&url)
        .await
        .expect("the store opens over TLS");
    store.ping().await.expect("the store answers");
    let customers = store.customers(5).await.expect("a query over TLS");
    assert!(customers.is_empty());

    // A certificate the client cannot verify is refused, not silently accepted.
    let wrong_ca = server.dir.path().join("server.pem");
    let unverified = devicekb::store::connect(&format!(
        "{base}/devicekb?ssl-mode=verify_ca&ssl-ca={}",
        wrong_ca.display()
    ))
    .await;
    assert!(
        unverified.is_err(),
        "a certificate signed by another CA was accepted"
    );
}
