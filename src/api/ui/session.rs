//! Who is looking at a page: the session cookie checked against the keys, the language,
//! and the cookies the workspace sets.

use axum::http::HeaderMap;
use axum::response::Response;

use super::{see_other, UiState};
use crate::error::Error;
use crate::service::access::Role;

pub const SESSION_COOKIE: &str = "dkb_session";
/// The sign-in form's own CSRF token (double-submitted: cookie and field).
pub const CSRF_COOKIE: &str = "dkb_signin";
pub const LANG_COOKIE: &str = "dkb_lang";

/// The workspace's languages: French first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Lang {
    #[default]
    Fr,
    En,
}

impl Lang {
    pub fn parse(code: &str) -> Option<Lang> {
        match code {
            "fr" => Some(Lang::Fr),
            "en" => Some(Lang::En),
            _ => None,
        }
    }

    pub fn code(self) -> &'static str {
        match self {
            Lang::Fr => "fr",
            Lang::En => "en",
        }
    }

    /// The language the browser chose with the switch, French otherwise.
    pub fn of(headers: &HeaderMap) -> Lang {
        cookie(headers, LANG_COOKIE)
            .and_then(Lang::parse)
            .unwrap_or_default()
    }

    /// The text in this language.
    pub fn pick<'a>(self, fr: &'a str, en: &'a str) -> &'a str {
        match self {
            Lang::Fr => fr,
            Lang::En => en,
        }
    }
}

/// A signed-in (or, on an open server, anonymous) viewer of a page.
pub struct Viewer {
    /// The key's name, `None` on an open server.
    pub name: Option<String>,
    pub role: Role,
    pub lang: Lang,
    /// The session token (empty on an open server, whose forms need none).
    session: String,
    /// The token this viewer's forms carry.
    pub csrf: String,
}

impl Viewer {
    /// The viewer of a page needing `needed`, or the response to send instead: the
    /// sign-in page (no session, ended, revoked key), which comes back to `here` (the
    /// page's path and query: a shared link survives signing in), or a page saying what
    /// is wrong.
    pub fn of(
        state: &UiState,
        headers: &HeaderMap,
        needed: Role,
        here: &str,
    ) -> Result<Viewer, Box<Response>> {
        let back = encode_component(&safe_next(Some(here)));
        let lang = Lang::of(headers);
        if open_mode(state, headers) {
            return Ok(Viewer {
                name: None,
                role: Role::Admin,
                lang,
                session: String::new(),
                csrf: String::new(),
            });
        }
        let Some(token) = cookie(headers, SESSION_COOKIE).filter(|t| !t.is_empty()) else {
            return Err(Box::new(see_other(&format!("/ui/signin?next={back}"))));
        };
        let access = &state.service.access;
        match access.authorize_session(token, needed, unix_now()) {
            Ok(principal) => Ok(Viewer {
                name: Some(principal.name),
                role: principal.role,
                lang,
                csrf: access.sessions.csrf_token(token),
                session: token.to_string(),
            }),
            Err(Error::Unauthorized(_)) => Err(Box::new(see_other(&format!(
                "/ui/signin?reason=session_ended&next={back}"
            )))),
            Err(e) => Err(Box::new(super::error_page(lang, &e))),
        }
    }

    /// Whether a form's `given` token is this session's. An open server has no session:
    /// there the browser must say the form came from the workspace's own origin (any
    /// page on the web can post a form to 127.0.0.1).
    pub fn csrf_ok(&self, state: &UiState, headers: &HeaderMap, given: &str) -> bool {
        if self.session.is_empty() {
            return same_origin(headers);
        }
        state
            .service
            .access
            .sessions
            .check_csrf(&self.session, given)
    }
}

/// An open server (loopback, no key anywhere) asked from this machine: no sign-in.
pub fn open_mode(state: &UiState, headers: &HeaderMap) -> bool {
    let local = super::super::access::from_this_machine(headers, state.network);
    state.service.access.is_open(local)
}

/// The value of cookie `name`, if the request carries it.
pub fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all("cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v)
}

/// Sets cookie `name` for the workspace's paths; `max_age` 0 removes it. `Secure` when
/// a trusted proxy says the browser came over TLS (the server itself speaks HTTP).
pub fn set_cookie(
    response: &mut Response,
    headers: &HeaderMap,
    network: super::Network,
    name: &str,
    value: &str,
    max_age: u64,
) {
    let over_tls = network.trust_forwarded_for
        && headers
            .get("x-forwarded-proto")
            .and_then(|v| v.to_str().ok())
            .is_some_and(|p| p.eq_ignore_ascii_case("https"));
    let secure = if over_tls { "; Secure" } else { "" };
    super::append_cookie(
        response,
        format!("{name}={value}; Path=/ui; Max-Age={max_age}; HttpOnly; SameSite=Strict{secure}"),
    );
}

/// Whether the browser says the request came from a page of this origin: `Sec-Fetch-Site:
/// same-origin`, or an `Origin` whose host is the request's `Host`.
pub fn same_origin(headers: &HeaderMap) -> bool {
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    if let Some(site) = header("sec-fetch-site") {
        return site == "same-origin";
    }
    match (header("origin"), header("host")) {
        (Some(origin), Some(host)) => origin
            .split_once("://")
            .is_some_and(|(_, authority)| authority.eq_ignore_ascii_case(host)),
        _ => false,
    }
}

/// Where to go after signing in: a page of the workspace (`/ui` or below, no `..`, no
/// control characters), never another site; anything else goes to the search page.
pub fn safe_next(next: Option<&str>) -> String {
    let fallback = "/ui/search".to_string();
    let Some(next) = next else {
        return fallback;
    };
    let path = next.split(['?', '#']).next().unwrap_or_default();
    let in_workspace = path == "/ui" || path.starts_with("/ui/");
    let clean = !path
        .split('/')
        .any(|segment| segment == ".." || segment == ".")
        && !next.contains('\\')
        && !next.chars().any(char::is_control);
    if in_workspace && clean {
        next.to_string()
    } else {
        fallback
    }
}

/// `text` percent-encoded for a query parameter's value.
pub fn encode_component(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' | b'/' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// Why the sign-in page is shown, from its `reason` parameter.
pub fn reason_text(lang: Lang, reason: &str) -> String {
    match reason {
        "session_ended" => lang.pick(
            "Votre session a pris fin ou sa clé a été révoquée : reconnectez-vous.",
            "Your session ended or its key was revoked: sign in again.",
        ),
        "signed_out" => lang.pick("Vous êtes déconnecté.", "You are signed out."),
        _ => "",
    }
    .to_string()
}

/// A random token for the sign-in form.
pub fn new_pre_session_token() -> String {
    let mut bytes = [0u8; 16];
    // Without randomness the form cannot be protected: an empty token matches nothing.
    if getrandom::fill(&mut bytes).is_err() {
        return String::new();
    }
    hex::encode(bytes)
}

/// Two tokens equal, compared in full; an empty one never matches.
pub fn same_token(a: &str, b: &str) -> bool {
    !a.is_empty()
        && a.len() == b.len()
        && a.bytes()
            .zip(b.bytes())
            .fold(0u8, |acc, (x, y)| acc | (x ^ y))
            == 0
}

pub fn unix_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn next_stays_in_the_workspace() {
        assert_eq!(safe_next(Some("/ui/search?q=x")), "/ui/search?q=x");
        for bad in [
            "https://evil.example/",
            "//evil.example/ui",
            "/admin",
            "/ui\\..\\x",
            "/ui/../admin",
            "/uifoo",
            "/ui/search\r\nSet-Cookie: x=1",
        ] {
            assert_eq!(safe_next(Some(bad)), "/ui/search", "{bad}");
        }
        assert_eq!(safe_next(None), "/ui/search");
    }

    #[test]
    fn the_way_back_is_encoded_for_a_query() {
        assert_eq!(
            encode_component("/ui/search?q=a b&m=é"),
            "/ui/search%3Fq%3Da%20b%26m%3D%C3%A9"
        );
    }

    #[test]
    fn same_origin_reads_fetch_metadata_then_origin() {
        let mut headers = HeaderMap::new();
        headers.insert("host", "127.0.0.1:8000".parse().unwrap());
        assert!(!same_origin(&headers));
        headers.insert("origin", "http://127.0.0.1:8000".parse().unwrap());
        assert!(same_origin(&headers));
        headers.insert("origin", "https://evil.example".parse().unwrap());
        assert!(!same_origin(&headers));
        headers.insert("sec-fetch-site", "same-origin".parse().unwrap());
        assert!(same_origin(&headers));
        headers.insert("sec-fetch-site", "cross-site".parse().unwrap());
        assert!(!same_origin(&headers));
    }

    #[test]
    fn cookies_are_read_by_name() {
        let mut headers = HeaderMap::new();
        headers.insert(
            "cookie",
            "a=1; dkb_session=tok.en; dkb_lang=en".parse().unwrap(),
        );
        assert_eq!(cookie(&headers, SESSION_COOKIE), Some("tok.en"));
        assert_eq!(Lang::of(&headers), Lang::En);
        assert_eq!(cookie(&headers, "missing"), None);
    }

    #[test]
    fn tokens_compare_in_full_and_never_empty() {
        assert!(same_token("abc", "abc"));
        assert!(!same_token("abc", "abd"));
        assert!(!same_token("abc", "ab"));
        assert!(!same_token("", ""));
    }
}
