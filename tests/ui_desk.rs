//! The workspace's ticket desk and KB pages in a real browser (headless Chromium, see
//! `common::browser`): the queue, an escalated ticket answered from its draft, an
//! automatic reply rated unhelpful and the KPI that counts it, a reindex followed to its
//! end and one refused with its file:line problems. Screenshots land in
//! `target/ui-screenshots/`.

use crate::common;

use std::time::Duration;

use common::browser::{
    assert_accessible, browser, mint, shot, sign_in, start_driver, text_of, wait_for_path,
    wait_for_text, wait_for_text_within,
};
use devicekb::service::access::Role;
use fantoccini::{Client, Locator};
use reqwest::Method;
use serde_json::{json, Value};

fn run_id() -> u128 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos()
}

/// The JSON API, with an API key.
async fn call(method: Method, url: String, body: Option<Value>, key: Option<&str>) -> (u16, Value) {
    let mut request = reqwest::Client::new().request(method, url);
    if let Some(body) = body {
        request = request.json(&body);
    }
    if let Some(key) = key {
        request = request.bearer_auth(key);
    }
    let response = request.send().await.expect("request");
    let status = response.status().as_u16();
    let text = response.text().await.unwrap();
    (
        status,
        serde_json::from_str(&text).unwrap_or(Value::String(text)),
    )
}

async fn click(client: &Client, css: &str) {
    client
        .find(Locator::Css(css))
        .await
        .unwrap_or_else(|e| panic!("`{css}`: {e}"))
        .click()
        .await
        .unwrap();
}

/// The current value of the form field `css` (empty when it has none).
async fn value_of(client: &Client, css: &str) -> String {
    client
        .find(Locator::Css(css))
        .await
        .unwrap_or_else(|e| panic!("`{css}`: {e}"))
        .prop("value")
        .await
        .unwrap()
        .unwrap_or_default()
}

async fn new_ticket(base: &str, key: &str, customer: i64, text: &str) -> Value {
    let (status, created) = call(
        Method::POST,
        format!("{base}/tickets"),
        Some(json!({"customer_id": customer, "subject": "Imprimante", "description": text, "channel": "email"})),
        Some(key),
    )
    .await;
    assert_eq!(status, 201, "{created}");
    created
}

/// The whole-period figure `key` as the KPI page shows it.
async fn kpi(client: &Client, base: &str, key: &str) -> String {
    client
        .goto(&format!("{base}/ui/kpis?days=7"))
        .await
        .unwrap();
    text_of(client, &format!("dd[data-kpi={key}]")).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn staff_work_the_queue_answer_an_escalated_ticket_and_rate_an_automatic_reply() {
    // The store starts empty, so the queue holds this test's tickets only (other tests
    // add theirs to the shared service's store meanwhile).
    let (service, _store) = common::repo_index_with_own_store().await;
    let base = common::spawn_app(service.clone()).await;
    let run = run_id();
    let staff_name = format!("ui-bob-{run}");
    let staff = mint(&service, &staff_name, Role::Staff).await;
    let api_key = mint(&service, &format!("ui-api-{run}"), Role::Admin).await;

    let (status, customer) = call(
        Method::POST,
        format!("{base}/customers"),
        Some(json!({"name": format!("Cabinet {run}")})),
        Some(&api_key),
    )
    .await;
    assert_eq!(status, 201, "{customer}");
    let customer = customer["id"].as_i64().unwrap();
    let auto = new_ticket(
        &base,
        &api_key,
        customer,
        "Bonjour, la C750 affiche 88 Toner cyan bas.",
    )
    .await;
    assert_eq!(auto["status"], "auto_resolved", "{auto}");
    let escalated = new_ticket(
        &base,
        &api_key,
        customer,
        "Bonjour, depuis hier notre imprimante fait un bruit bizarre et les pages sortent froissées, que faire ?",
    )
    .await;
    assert_eq!(escalated["status"], "escalated", "{escalated}");
    let (auto_id, escalated_id) = (
        auto["ticket_id"].as_i64().unwrap(),
        escalated["ticket_id"].as_i64().unwrap(),
    );

    let driver = start_driver().await;
    let client = browser(&driver).await;
    client.goto(&format!("{base}/ui/queue")).await.unwrap();
    sign_in(&client, &staff).await;
    wait_for_path(&client, "/ui/queue").await;

    // Escalated tickets come first; the counts per status are those of the stats API.
    let first = text_of(&client, "table.queue tbody tr:first-child .status").await;
    assert_eq!(first, "escaladé");
    let (_, stats) = call(
        Method::GET,
        format!("{base}/stats/tickets"),
        None,
        Some(&api_key),
    )
    .await;
    let escalated_count = stats["by_status"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["value"] == "escalated")
        .map_or(0, |c| c["count"].as_i64().unwrap());
    let shown = text_of(&client, "nav.counts a[data-status=escalated] .n").await;
    assert_eq!(shown, escalated_count.to_string());
    assert!(client
        .find(Locator::Css(&format!("tr[data-ticket='{escalated_id}']")))
        .await
        .is_ok());
    shot(&client, "09-queue").await;
    assert_accessible(&client, "queue").await;

    // Filters narrow the list (and the URL carries them).
    client
        .goto(&format!(
            "{base}/ui/queue?status=auto_resolved&model=Lexmark+C750"
        ))
        .await
        .unwrap();
    let statuses: Vec<String> = {
        let mut out = Vec::new();
        for cell in client
            .find_all(Locator::Css("table.queue tbody .status"))
            .await
            .unwrap()
        {
            out.push(cell.text().await.unwrap());
        }
        out
    };
    assert!(!statuses.is_empty());
    assert!(
        statuses.iter().all(|s| s == "répondu automatiquement"),
        "{statuses:?}"
    );
    assert!(client
        .find(Locator::Css(&format!("tr[data-ticket='{auto_id}']")))
        .await
        .is_ok());

    // A new ticket shows up in the open queue without a reload.
    client.goto(&format!("{base}/ui/queue")).await.unwrap();
    client
        .execute(
            "document.querySelector('#queue').setAttribute('data-seen', 'yes')",
            vec![],
        )
        .await
        .unwrap();
    let late = new_ticket(
        &base,
        &api_key,
        customer,
        "Bonjour, je voudrais résilier mon contrat de maintenance.",
    )
    .await;
    let late_id = late["ticket_id"].as_i64().unwrap();
    let row = format!("tr[data-ticket='{late_id}']");
    let mut arrived = false;
    for _ in 0..40 {
        if client.find(Locator::Css(&row)).await.is_ok() {
            arrived = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    assert!(arrived, "the queue refreshed itself with ticket {late_id}");
    let same_page = client
        .execute(
            "return document.querySelector('#queue').getAttribute('data-seen')",
            vec![],
        )
        .await
        .unwrap();
    assert_eq!(
        same_page,
        json!("yes"),
        "the list was swapped in place, not reloaded"
    );

    // The escalated ticket: the conversation with what the extractor read, the
    // retrieved entries with their evidence, the decision, the steps with their times.
    click(&client, &format!("tr[data-ticket='{escalated_id}'] td a")).await;
    wait_for_path(&client, &format!("/ui/tickets/{escalated_id}")).await;
    wait_for_text(&client, "#decision", "Escaladé").await;
    assert!(!text_of(&client, "#steps table").await.is_empty());
    assert!(!text_of(&client, "#retrieved").await.is_empty());
    let draft = value_of(&client, "#reply-body").await;
    assert!(
        !draft.trim().is_empty(),
        "the pipeline's draft is in the box"
    );
    shot(&client, "10-ticket-escalated").await;
    assert_accessible(&client, "ticket").await;

    // Edit the draft and send it: the status and the history change, by this agent.
    let reply = format!("Bonjour, un technicien passe demain matin. Réf {run}.");
    let body = client.find(Locator::Id("reply-body")).await.unwrap();
    body.clear().await.unwrap();
    body.send_keys(&reply).await.unwrap();
    // The agent cites the entry that answers, which `devicekb learn` then exports.
    click(&client, "#reply-cite option:nth-child(2)").await;
    let cited = value_of(&client, "#reply-cite option:checked").await;
    assert!(!cited.is_empty());
    click(&client, "#reply button[type=submit]").await;
    wait_for_text(&client, "#ticket-status .status", "répondu").await;
    let (_, details) = call(
        Method::GET,
        format!("{base}/tickets/{escalated_id}"),
        None,
        Some(&api_key),
    )
    .await;
    let responses = details["responses"].as_array().cloned().unwrap_or_default();
    assert!(
        responses
            .iter()
            .any(|r| r["responder"] == "agent" && r["citations"] == json!([cited])),
        "{details}"
    );
    let history = wait_for_text(&client, "#history", &staff_name).await;
    assert!(history.contains("escaladé → répondu"), "{history}");
    wait_for_text(&client, "#conversation", &format!("Réf {run}")).await;
    shot(&client, "11-ticket-answered").await;

    // An empty reply is refused on the page, which says why and keeps the status chosen.
    let body = client.find(Locator::Id("reply-body")).await.unwrap();
    body.clear().await.unwrap();
    click(&client, "#reply-status option[value=closed]").await;
    click(&client, "#reply button[type=submit]").await;
    wait_for_text(&client, ".problem", "body").await;
    assert_eq!(
        text_of(&client, "#reply-status option:checked").await,
        "fermé"
    );

    // Searching the KB for this ticket finds nothing: the page offers to escalate it.
    let search = client.find(Locator::Id("ticket-search")).await.unwrap();
    search.clear().await.unwrap();
    search.send_keys("xylophone quetzalcoatl").await.unwrap();
    click(&client, "form.search-ticket button").await;
    wait_for_text(&client, "section.empty h2", "Aucune entrée").await;
    let offered = value_of(&client, "#escalate-ticket").await;
    assert_eq!(offered, escalated_id.to_string());
    shot(&client, "12-search-nothing-escalate").await;
    assert_accessible(&client, "search with the escalate offer").await;
    click(&client, "form.escalate button").await;
    wait_for_text(&client, "#ticket-status .status", "escaladé").await;
    wait_for_text(
        &client,
        "#history",
        "nothing in the KB for «xylophone quetzalcoatl»",
    )
    .await;

    // The automatic reply rated unhelpful: the KPI counts it, as the stats API does, and
    // the ticket goes back to a person.
    let before: i64 = kpi(&client, &base, "unhelpful").await.parse().unwrap();
    client
        .goto(&format!("{base}/ui/tickets/{auto_id}"))
        .await
        .unwrap();
    wait_for_text(&client, "#decision", "automatiquement").await;
    click(&client, "#feedback button[value=false]").await;
    wait_for_text(&client, "#ticket-status .status", "ouvert").await;
    let after: i64 = kpi(&client, &base, "unhelpful").await.parse().unwrap();
    assert_eq!(after, before + 1);
    let (_, pipeline) = call(
        Method::GET,
        format!("{base}/stats/pipeline?days=7"),
        None,
        Some(&api_key),
    )
    .await;
    assert_eq!(pipeline["total"]["unhelpful"], json!(after), "{pipeline}");
    let tickets = text_of(&client, "dd[data-kpi=tickets]").await;
    assert_eq!(tickets, pipeline["total"]["tickets"].to_string());
    shot(&client, "13-kpis").await;
    assert_accessible(&client, "kpis").await;

    // A ticket that does not exist is a page saying so.
    client
        .goto(&format!("{base}/ui/tickets/987654321"))
        .await
        .unwrap();
    wait_for_text(&client, "h1", "Ticket introuvable").await;

    client.close().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_admin_reindexes_from_the_kb_page_and_sees_file_line_problems() {
    let kb = common::small_kb(|id| id.starts_with("lexmark-c750-msg-8"));
    let data = tempfile::tempdir().unwrap();
    let service = common::start_service(kb.path(), data.path()).await;
    let base = common::spawn_app(service.clone()).await;
    let run = run_id();
    let admin = mint(&service, &format!("ui-admin-{run}"), Role::Admin).await;
    let staff = mint(&service, &format!("ui-staff-{run}"), Role::Staff).await;

    let driver = start_driver().await;
    let client = browser(&driver).await;

    // Staff see the entries, not the reindex button.
    client.goto(&format!("{base}/ui/kb")).await.unwrap();
    sign_in(&client, &staff).await;
    wait_for_path(&client, "/ui/kb").await;
    wait_for_text(&client, "section.collection h2", "Lexmark").await;
    assert!(client.find(Locator::Css("#reindex")).await.is_err());
    click(&client, "ul.entries li a").await;
    wait_for_text(&client, "article.entry .meta", "lexmark-c750-msg-8").await;
    shot(&client, "14-kb-entry").await;
    assert_accessible(&client, "kb entry").await;
    click(&client, "header.top .who button").await;
    wait_for_path(&client, "/ui/signin").await;

    // An admin edits an entry's title and reindexes from the page: the task page follows
    // the build to its end.
    let file = std::fs::read_dir(kb.path().join("entries/test"))
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .find(|p| p.extension().is_some_and(|x| x == "toml"))
        .unwrap();
    let text = std::fs::read_to_string(&file).unwrap();
    let edited = text.replacen("title = \"", &format!("title = \"Réf {run} "), 1);
    assert_ne!(edited, text);
    std::fs::write(&file, edited).unwrap();
    client.goto(&format!("{base}/ui/kb")).await.unwrap();
    sign_in(&client, &admin).await;
    wait_for_path(&client, "/ui/kb").await;
    click(&client, "#reindex button").await;
    wait_for_text(&client, "h1", "Réindexation").await;
    shot(&client, "15-reindex-running").await;
    // While it runs, the page follows it in place (no reload): a mark set now stays.
    let first_seen = client
        .execute(
            "const t = document.querySelector('#task'); t.dataset.seen = 'yes'; \
             return t.getAttribute('data-task-status')",
            vec![],
        )
        .await
        .unwrap();
    wait_for_text_within(
        &client,
        "#task .state",
        "terminée",
        Duration::from_secs(120),
    )
    .await;
    if first_seen == json!("running") {
        let mark = client
            .execute(
                "return document.querySelector('#task').dataset.seen || null",
                vec![],
            )
            .await
            .unwrap();
        assert_eq!(mark, json!("yes"), "the running task was followed in place");
    }
    let generation = text_of(&client, "#task").await;
    assert!(generation.contains("Génération servie"), "{generation}");
    shot(&client, "16-reindex-done").await;
    assert_accessible(&client, "reindex task").await;
    client.goto(&format!("{base}/ui/kb?q={run}")).await.unwrap();
    wait_for_text(&client, "ul.entries", &format!("Réf {run}")).await;

    // An agent's reply citing an entry: the learn button writes it into the KB, then
    // reindexes; the task page says how many were written.
    let (status, customer) = call(
        Method::POST,
        format!("{base}/customers"),
        Some(json!({"name": "Cabinet Lenoir"})),
        Some(&admin),
    )
    .await;
    assert_eq!(status, 201, "{customer}");
    let ticket = new_ticket(
        &base,
        &admin,
        customer["id"].as_i64().unwrap(),
        &format!("Réf {run} : la machine claque trois fois au démarrage puis s'arrête."),
    )
    .await;
    let cited = "lexmark-c750-msg-88-toner-bas";
    let (status, replied) = call(
        Method::POST,
        format!("{base}/tickets/{}/reply", ticket["ticket_id"]),
        Some(json!({"body": "Remplacez le toner.", "citations": [cited], "status": "answered"})),
        Some(&admin),
    )
    .await;
    assert_eq!(status, 201, "{replied}");
    client.goto(&format!("{base}/ui/kb")).await.unwrap();
    click(&client, "#learn button").await;
    wait_for_text(&client, "#learned", "1 réponses confirmées").await;
    wait_for_text_within(
        &client,
        "#task .state",
        "terminée",
        Duration::from_secs(120),
    )
    .await;
    // What the new generation took from the desk.
    wait_for_text(&client, "#desk-lines", "1 réponses confirmées cherchées").await;
    let confirmed = kb.path().join("confirmed/answers.jsonl");
    let written = std::fs::read_to_string(&confirmed).unwrap();
    assert!(written.contains(cited) && written.contains(&format!("Réf {run}")));
    // A line broken by hand: nothing is written, and the line is named.
    std::fs::write(&confirmed, format!("{written}not json\n")).unwrap();
    client.goto(&format!("{base}/ui/kb")).await.unwrap();
    click(&client, "#learn button").await;
    wait_for_text(&client, "ul.validation", "answers.jsonl:2").await;
    assert_accessible(&client, "learn problems").await;
    std::fs::write(&confirmed, &written).unwrap();

    // A file that does not validate: the task fails and names each problem as file:line.
    std::fs::write(
        kb.path().join("entries/test/broken.toml"),
        "id = \"broken\"\ntitle = \"Cassé\"\nlang = \"fr\"\ncategory = \"pas-une-categorie\"\n",
    )
    .unwrap();
    client.goto(&format!("{base}/ui/kb")).await.unwrap();
    click(&client, "#reindex button").await;
    wait_for_text_within(&client, "#task .state", "échouée", Duration::from_secs(60)).await;
    let problems = text_of(&client, "ul.validation").await;
    assert!(problems.contains("broken.toml"), "{problems}");
    shot(&client, "17-reindex-problems").await;
    assert_accessible(&client, "reindex problems").await;

    client.close().await.unwrap();
}

/// Signs in over plain HTTP (the sign-in form's token and cookie, then the session
/// cookie); returns the `Cookie` header the next requests carry.
async fn sign_in_http(base: &str, key: &str) -> String {
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let form = client
        .get(format!("{base}/ui/signin"))
        .send()
        .await
        .unwrap();
    let cookie_of = |response: &reqwest::Response, name: &str| {
        response
            .headers()
            .get_all("set-cookie")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .find(|v| v.starts_with(&format!("{name}=")))
            .and_then(|v| v.split(';').next())
            .map(str::to_string)
            .unwrap_or_else(|| panic!("no {name} cookie"))
    };
    let pre = cookie_of(&form, "dkb_signin");
    let page = form.text().await.unwrap();
    let csrf = page
        .split("name=\"csrf\" value=\"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .expect("the form's token")
        .to_string();
    let signed = client
        .post(format!("{base}/ui/signin"))
        .header("cookie", pre)
        .form(&[("key", key), ("csrf", &csrf), ("next", "/ui/queue")])
        .send()
        .await
        .unwrap();
    assert_eq!(signed.status().as_u16(), 303);
    cookie_of(&signed, "dkb_session")
}

/// The ticket desk's database down: its pages say so and search still works (signed in
/// with the operator's key, the only one that can be checked without the database).
#[tokio::test]
async fn with_the_database_down_the_desk_says_so_and_search_works() {
    const KEY: &str = "operator-key";
    let service = common::repo_index_with(|c| {
        c.database_url = "mysql://root@127.0.0.1:1/devicekb".into();
        c.admin_api_key = Some(KEY.into());
    })
    .await;
    let base = common::spawn_app(service).await;
    let cookie = sign_in_http(&base, KEY).await;
    let page = |path: &str| {
        let request = reqwest::Client::new()
            .get(format!("{base}{path}"))
            .header("cookie", cookie.clone());
        async move {
            let response = request.send().await.unwrap();
            (response.status().as_u16(), response.text().await.unwrap())
        }
    };
    for path in ["/ui/queue", "/ui/tickets/1", "/ui/kpis"] {
        let (status, body) = page(path).await;
        assert_eq!(status, 503, "{path}: {body}");
        assert!(
            body.contains("Guichet des tickets indisponible"),
            "{path}: {body}"
        );
    }
    let (status, search) = page("/ui/search?q=88+toner+cyan&mode=bm25").await;
    assert_eq!(status, 200, "{search}");
    assert!(search.contains("lexmark-c750-msg-88"), "{search}");
}

/// Forms without their session's token are refused, pages above a key's role too, and a
/// form over the size limit is a 413 page, not a lost reply.
#[tokio::test]
async fn forged_forms_other_roles_and_oversized_forms_are_refused() {
    let kb = common::small_kb(|id| id.starts_with("lexmark-c750-msg-88"));
    let data = tempfile::tempdir().unwrap();
    let service = common::start_service(kb.path(), data.path()).await;
    let base = common::spawn_app(service.clone()).await;
    let staff = mint(&service, &format!("ui-carol-{}", run_id()), Role::Staff).await;
    let cookie = sign_in_http(&base, &staff).await;
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let post = |path: &str, form: Vec<(&'static str, String)>| {
        client
            .post(format!("{base}{path}"))
            .header("cookie", cookie.clone())
            .form(&form)
            .send()
    };
    for (path, form) in [
        ("/ui/tickets/1/reply", vec![("body", "Bonjour".to_string())]),
        (
            "/ui/tickets/1/status",
            vec![
                ("status", "closed".to_string()),
                ("csrf", "forged".to_string()),
            ],
        ),
        (
            "/ui/tickets/1/feedback",
            vec![("helpful", "false".to_string())],
        ),
        (
            "/ui/escalate",
            vec![("ticket", "1".to_string()), ("csrf", "".to_string())],
        ),
    ] {
        let response = post(path, form).await.unwrap();
        assert_eq!(response.status().as_u16(), 403, "{path}");
        let page = response.text().await.unwrap();
        assert!(page.contains("Formulaire refusé"), "{path}: {page}");
    }
    // A staff key cannot reindex, learn, nor follow a reindex.
    // Refused for the role (checked before the form's token), not as a forged form.
    for path in ["/ui/kb/reindex", "/ui/kb/learn"] {
        let response = post(path, vec![("csrf", "x".to_string())]).await.unwrap();
        assert_eq!(response.status().as_u16(), 403, "{path}");
        let page = response.text().await.unwrap();
        assert!(!page.contains("Formulaire refusé"), "{path}: {page}");
    }
    let task = client
        .get(format!("{base}/ui/kb/tasks/1"))
        .header("cookie", cookie.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(task.status().as_u16(), 403);
    // Over the size limit: a page saying the text is too long.
    let huge = "é".repeat(200_000);
    let response = post("/ui/tickets/1/reply", vec![("body", huge)])
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 413);
    assert!(response.text().await.unwrap().contains("Texte trop long"));
}
