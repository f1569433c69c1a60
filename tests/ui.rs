//! The staff workspace in a real browser: headless Chromium driven over WebDriver
//! (chromium and chromium-driver from Debian's packages; `make test` installs them).
//! Screenshots of every page land in `target/ui-screenshots/` on every run.

use crate::common;

use common::browser::{
    assert_accessible, browser, mint, shot, sign_in, start_driver, text_of, wait_for_path,
    wait_for_text,
};
use devicekb::service::access::Role;
use fantoccini::key::Key;
use fantoccini::Locator;
use serde_json::json;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn staff_sign_in_search_from_the_keyboard_and_share_the_url() {
    // A store of its own: a key in the shared service's would close its keyless loopback
    // access to every other test of the suite.
    let (service, _store) = common::repo_index_with_own_store().await;
    let base = common::spawn_app(service.clone()).await;
    let (staff_name, intake_name) = ("ui-alice", "ui-intake");
    let staff = mint(&service, staff_name, Role::Staff).await;
    let intake = mint(&service, intake_name, Role::Intake).await;
    let driver = start_driver().await;
    let client = browser(&driver).await;

    // Signed out, a shared link sends the browser to the sign-in page, which comes back
    // to it once signed in.
    client
        .goto(&format!("{base}/ui/search?q=toner+cyan&mode=bm25"))
        .await
        .unwrap();
    assert_eq!(client.current_url().await.unwrap().path(), "/ui/signin");
    shot(&client, "01-signin").await;
    assert_accessible(&client, "sign-in").await;

    // A wrong key, then a key without the staff role: back to sign-in with a message.
    sign_in(&client, "dkb_not-a-key").await;
    wait_for_text(&client, ".problem", "Clé inconnue").await;
    shot(&client, "02-signin-wrong-key").await;
    sign_in(&client, &intake).await;
    wait_for_text(&client, ".problem", intake_name).await;

    // The staff key signs in; the session cookie is HttpOnly (the page cannot read it).
    sign_in(&client, &staff).await;
    wait_for_path(&client, "/ui/search").await;
    let landed = client.current_url().await.unwrap();
    assert_eq!(landed.query(), Some("q=toner+cyan&mode=bm25"), "{landed}");
    wait_for_text(&client, ".who", staff_name).await;
    let visible = client
        .execute("return document.cookie", vec![])
        .await
        .unwrap();
    assert!(
        !visible.as_str().unwrap_or_default().contains("dkb_session"),
        "{visible}"
    );

    // `/` focuses the box; the query goes in; Enter searches.
    client
        .find(Locator::Css("body"))
        .await
        .unwrap()
        .send_keys("/")
        .await
        .unwrap();
    let focused = client.active_element().await.unwrap();
    assert_eq!(focused.attr("id").await.unwrap().as_deref(), Some("q"));
    focused
        .send_keys(&format!("49.4C02 firmware{}", char::from(Key::Enter)))
        .await
        .unwrap();
    let first = wait_for_text(&client, "ol.results li:first-child .meta code", "hp-49").await;
    assert_eq!(first, "hp-49-error-firmware");
    let marked = text_of(&client, "ol.results li:first-child h2 mark").await;
    assert!(!marked.is_empty(), "the matched words are highlighted");
    shot(&client, "03-search-results").await;
    assert_accessible(&client, "search results").await;

    // Arrows move through the results, Enter opens one (its steps show).
    let box_ = client.find(Locator::Id("q")).await.unwrap();
    box_.send_keys(&char::from(Key::Down).to_string())
        .await
        .unwrap();
    let on = client.active_element().await.unwrap();
    assert!(on.attr("data-result").await.unwrap().is_some());
    on.send_keys(&char::from(Key::Enter).to_string())
        .await
        .unwrap();
    let open = client
        .execute(
            "return document.querySelector('ol.results li:first-child details').open",
            vec![],
        )
        .await
        .unwrap();
    assert_eq!(open, json!(true));
    assert!(!text_of(&client, "ol.results li:first-child ol.steps")
        .await
        .is_empty());
    shot(&client, "04-search-result-open").await;

    // The URL carries the search: opened as a bookmark, it shows the same page.
    let url = client.current_url().await.unwrap();
    assert!(
        url.query().unwrap_or_default().contains("q=49.4C02"),
        "{url}"
    );
    let shared =
        format!("{base}/ui/search?q=bourrage+papier&model=HP+LaserJet+Pro+M404dn&mode=hybrid");
    client.goto(&shared).await.unwrap();
    let chosen = client
        .find(Locator::Css("#model option:checked"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert_eq!(chosen, "HP LaserJet Pro M404dn");
    wait_for_text(&client, ".summary", "HP LaserJet Pro M404dn").await;
    shot(&client, "05-search-bookmarked").await;

    // Nothing found says so.
    client
        .goto(&format!(
            "{base}/ui/search?q=xylophone+quetzalcoatl&mode=bm25"
        ))
        .await
        .unwrap();
    wait_for_text(&client, "section.empty h2", "Aucune entrée").await;
    shot(&client, "06-search-nothing-found").await;
    assert_accessible(&client, "search, nothing found").await;

    // A form forged by another page (no session token) is refused.
    client
        .execute(
            "const f = document.createElement('form'); f.method = 'post'; \
             f.action = '/ui/signout'; const i = document.createElement('input'); \
             i.name = 'csrf'; i.value = 'forged'; f.appendChild(i); \
             document.body.appendChild(f); f.submit();",
            vec![],
        )
        .await
        .unwrap();
    wait_for_path(&client, "/ui/signout").await;
    wait_for_text(&client, "h1", "Formulaire refusé").await;
    shot(&client, "07-csrf-refused").await;

    // English, then signing out.
    client.goto(&format!("{base}/ui/search")).await.unwrap();
    client
        .find(Locator::Css("a[data-lang-switch]"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    wait_for_path(&client, "/ui/search").await;
    wait_for_text(&client, "nav a[aria-current=page]", "Search").await;
    shot(&client, "08-search-english").await;
    client
        .find(Locator::Css(".who button"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    wait_for_path(&client, "/ui/signin").await;
    wait_for_text(&client, ".problem", "signed out").await;

    client.close().await.unwrap();
}
