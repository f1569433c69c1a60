//! A real browser for the workspace's tests: headless Chromium driven over WebDriver
//! (chromium and chromium-driver from Debian's packages; `make test` installs them), and
//! what the tests do with it: sign in, wait for a page's text, take screenshots (under
//! `target/ui-screenshots/`, on every run).

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use devicekb::service::access::Role;
use devicekb::service::Service;
use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::json;

const CHROMIUM: &str = "/usr/bin/chromium";
const CHROMEDRIVER: &str = "/usr/bin/chromedriver";

/// chromedriver on a free loopback port, stopped when dropped.
pub struct Driver {
    child: Child,
    url: String,
}

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub async fn start_driver() -> Driver {
    for path in [CHROMIUM, CHROMEDRIVER] {
        assert!(
            std::path::Path::new(path).exists(),
            "{path} is missing: `make browser` (or apt-get install chromium chromium-driver) installs it"
        );
    }
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let child = Command::new(CHROMEDRIVER)
        .arg(format!("--port={port}"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("chromedriver starts");
    // Owned by the guard from here on, so a failure below still stops it.
    let driver = Driver {
        child,
        url: format!("http://127.0.0.1:{port}"),
    };
    for _ in 0..100 {
        if reqwest::get(format!("{}/status", driver.url)).await.is_ok() {
            return driver;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("chromedriver did not answer on {}", driver.url);
}

pub async fn browser(driver: &Driver) -> Client {
    let mut caps = serde_json::Map::new();
    caps.insert(
        "goog:chromeOptions".into(),
        json!({
            "binary": CHROMIUM,
            "args": ["--headless=new", "--no-sandbox", "--disable-dev-shm-usage",
                     "--disable-gpu", "--window-size=1280,900", "--lang=fr-FR"]
        }),
    );
    // chromedriver listens on loopback in plain HTTP: no TLS stack needed.
    ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new())
        .capabilities(caps)
        .connect(&driver.url)
        .await
        .expect("a browser session")
}

pub fn screenshots() -> PathBuf {
    let dir = super::repo().join("target/ui-screenshots");
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

pub async fn shot(client: &Client, name: &str) {
    let png = client.screenshot().await.expect("a screenshot");
    std::fs::write(screenshots().join(format!("{name}.png")), png).unwrap();
}

/// The text of `css` once it contains `needle`, waiting (5 s at most) for the page a
/// click submitted to replace the old one: reading right after a click may find the old
/// page's element, or one the new page has just detached.
pub async fn wait_for_text(client: &Client, css: &str, needle: &str) -> String {
    wait_for_text_within(client, css, needle, Duration::from_secs(5)).await
}

/// `wait_for_text`, waiting up to `limit` (a page that follows a long task).
pub async fn wait_for_text_within(
    client: &Client,
    css: &str,
    needle: &str,
    limit: Duration,
) -> String {
    let mut last = String::new();
    let started = std::time::Instant::now();
    while started.elapsed() < limit {
        if let Ok(element) = client.find(Locator::Css(css)).await {
            if let Ok(text) = element.text().await {
                if text.contains(needle) {
                    return text;
                }
                last = text;
            }
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!(
        "`{css}` never said `{needle}` on {} (last: `{last}`)\n{}",
        client.current_url().await.unwrap(),
        client.source().await.unwrap_or_default()
    );
}

/// The text of `css` on the page as it is.
pub async fn text_of(client: &Client, css: &str) -> String {
    wait_for_text(client, css, "").await
}

/// Waits (5 s at most) for the browser to reach `path` after a click submitted a form.
pub async fn wait_for_path(client: &Client, path: &str) {
    for _ in 0..50 {
        if client.current_url().await.unwrap().path() == path {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!(
        "the browser did not reach {path}: {}",
        client.current_url().await.unwrap()
    );
}

pub async fn mint(service: &Service, name: &str, role: Role) -> String {
    super::mint_key(service, name, role, None, None).await
}

pub async fn sign_in(client: &Client, key: &str) {
    let field = client.find(Locator::Id("key")).await.unwrap();
    field.send_keys(key).await.unwrap();
    client
        .find(Locator::Css("section.signin button[type=submit]"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
}

/// axe-core's script, as `make browser` installs it in the cache.
fn axe_script() -> String {
    let cache = std::env::var("DEVICEKB_CACHE").map_or_else(
        |_| PathBuf::from(std::env::var("HOME").unwrap_or_default()).join(".cache/devicekb"),
        PathBuf::from,
    );
    let path = cache.join("axe-core-4.14.1/axe.min.js");
    std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("{}: {e}: `make browser` installs axe-core", path.display()))
}

/// Runs axe-core (WCAG 2 A and AA rules) on the page as it is and fails on any serious
/// or critical violation, naming the rule and the elements.
pub async fn assert_accessible(client: &Client, page: &str) {
    let script = format!(
        "{}\n;const done = arguments[arguments.length - 1];\
         axe.run(document, {{runOnly: {{type: 'tag', values: ['wcag2a', 'wcag2aa']}}}})\
         .then(r => done({{passes: r.passes.length, problems: r.violations\
         .filter(v => v.impact === 'serious' || v.impact === 'critical')\
         .map(v => v.id + ' (' + v.impact + '): ' + v.help + ' at ' +\
         v.nodes.slice(0, 3).map(n => n.target.join(' ')).join(', '))}}))\
         .catch(e => done({{passes: 0, problems: ['axe failed: ' + e]}}));",
        axe_script()
    );
    let found = client
        .execute_async(&script, vec![])
        .await
        .expect("axe runs");
    let passes = found["passes"].as_u64().unwrap_or(0);
    let problems: Vec<String> = serde_json::from_value(found["problems"].clone())
        .unwrap_or_else(|e| panic!("{page}: axe's answer `{found}`: {e}"));
    assert!(
        problems.is_empty(),
        "{page}: accessibility problems:\n{}",
        problems.join("\n")
    );
    assert!(passes > 0, "{page}: axe checked nothing: {found}");
}
