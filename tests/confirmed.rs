//! Confirmed answers: an agent's reply citing an entry is written into the KB by
//! `devicekb learn`, and the next reindex finds that entry for the next ticket worded
//! the same way; what the file cannot use is named, never fatal to the index.

use crate::common;

use common::http::{call, new_customer};
use reqwest::Method;
use serde_json::{json, Value};

fn keep(id: &str) -> bool {
    id.starts_with("lexmark-c750-jam-2")
        || id.starts_with("brother-")
        || id.starts_with("lexmark-c750-msg-8")
}

/// The customer's words share none of the entry's: only an earlier ticket can tell.
const WORDED: &str = "Depuis lundi la machine du secrétariat claque trois fois au démarrage puis s'arrête net, et plus rien ne sort.";
const TARGET: &str = "lexmark-c750-msg-88-toner-bas";

/// `POST path` with `body`, which must answer 200.
async fn post_ok(base: &str, path: &str, body: Value) -> Value {
    let (status, answer) = call(Method::POST, format!("{base}{path}"), Some(body), None).await;
    assert_eq!(status, 200, "{answer}");
    answer
}

async fn first_hit(base: &str, query: &str) -> String {
    let found = post_ok(base, "/knowledge/search", json!({"query": query})).await;
    found["results"][0]["kb_id"]
        .as_str()
        .unwrap_or_default()
        .to_string()
}

/// A service on `kb` with a fixed relevance threshold: a KB this small supports few
/// automatic answers at the target precision, and a threshold that stays the same before
/// and after a reindex keeps a test about what the desk taught.
async fn served_at_fixed_threshold(kb: &std::path::Path, data: &std::path::Path) -> String {
    let threshold = |c: &mut devicekb::config::Config| c.answer_threshold = Some(0.3);
    let service = common::start_service_with(kb, data, threshold).await;
    common::spawn_app(service).await
}

/// A ticket on `WORDED` that an agent answers citing `TARGET`.
async fn ticket_cited(base: &str, customer: i64, subject: &str, status: &str) -> Value {
    let (code, ticket) = call(
        Method::POST,
        format!("{base}/tickets"),
        Some(json!({"customer_id": customer, "subject": subject, "description": WORDED})),
        None,
    )
    .await;
    assert_eq!(code, 201, "{ticket}");
    let id = ticket["ticket_id"].as_i64().unwrap();
    let (code, replied) = call(
        Method::POST,
        format!("{base}/tickets/{id}/reply"),
        Some(json!({"body": "Remplacez la cartouche de toner.", "citations": [TARGET], "status": status})),
        None,
    )
    .await;
    assert_eq!(code, 201, "{replied}");
    ticket
}

fn run(args: &[&str], kb: &std::path::Path, data: &std::path::Path) -> (bool, String, String) {
    let output = common::process::devicekb(args, kb, data).output().unwrap();
    (
        output.status.success(),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

#[tokio::test]
async fn an_agents_citation_is_learned_and_found_for_the_next_ticket() {
    let kb = common::small_kb(keep);
    let data = tempfile::tempdir().unwrap();
    let service = common::start_service(kb.path(), data.path()).await;
    // Tickets would wait for the classifier's first training (1080 tickets) on a
    // machine busy with other tests: trained first, as `serve` does at start.
    common::warm(&service).await;
    let base = common::spawn_app(service.clone()).await;
    assert_ne!(first_hit(&base, WORDED).await, TARGET);

    // A ticket the agent answers with the toner entry; another on the same words.
    let customer = new_customer(&base).await;
    let mut tickets: Vec<Value> = Vec::new();
    for (subject, status) in [("Machine bruyante", "answered"), ("Relance", "open")] {
        tickets.push(ticket_cited(&base, customer, subject, status).await);
    }
    // A line an editor wrote, naming an entry the KB no longer has.
    let file = kb.path().join("confirmed/answers.jsonl");
    std::fs::create_dir_all(file.parent().unwrap()).unwrap();
    std::fs::write(
        &file,
        "{\"text\": \"vieille question\", \"entries\": [\"entry-removed-since\"]}\n",
    )
    .unwrap();
    drop(service);

    let (ok, stdout, stderr) = run(&["learn"], kb.path(), data.path());
    assert!(ok, "{stderr}");
    assert!(stdout.contains("2 cited by agents"), "{stdout}");
    let lines: Vec<Value> = std::fs::read_to_string(&file)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 3, "{lines:?}");
    assert_eq!(lines[0]["entries"], json!(["entry-removed-since"]));
    assert_eq!(lines[1]["confirmed_by"], "agent");
    assert_eq!(lines[1]["ticket_id"], tickets[0]["ticket_id"]);
    assert!(lines[1]["text"]
        .as_str()
        .unwrap()
        .contains("claque trois fois"));

    let (ok, stdout, stderr) = run(&["reindex"], kb.path(), data.path());
    assert!(ok, "{stderr}");
    assert!(
        stdout.contains("confirmed answers: 2 searched beside the entries")
            && stdout.contains("1 naming no entry of the KB left out"),
        "{stdout}"
    );
    let service = common::start_service(kb.path(), data.path()).await;
    // Tickets would wait for the classifier's first training (1080 tickets) on a
    // machine busy with other tests: trained first, as `serve` does at start.
    common::warm(&service).await;
    let base = common::spawn_app(service.clone()).await;
    assert_eq!(first_hit(&base, WORDED).await, TARGET);
    let (_, health) = call(Method::GET, format!("{base}/health"), None, None).await;
    assert!(
        health
            .to_string()
            .contains("confirmed answers are searched beside the entries"),
        "{health}"
    );
}

#[tokio::test]
async fn a_confirmed_answers_line_that_does_not_parse_names_its_line_and_field() {
    let kb = common::small_kb(keep);
    let data = tempfile::tempdir().unwrap();
    let file = kb.path().join("confirmed/answers.jsonl");
    std::fs::create_dir_all(file.parent().unwrap()).unwrap();
    std::fs::write(
        &file,
        "{\"text\": \"ok\", \"entries\": [\"lexmark-c750-msg-88-toner-bas\"]}\n{\"text\": \"\", \"entries\": [\"x\"]}\n",
    )
    .unwrap();
    let (ok, _, stderr) = run(&["reindex"], kb.path(), data.path());
    assert!(!ok);
    assert!(stderr.contains("answers.jsonl:2: field `text`"), "{stderr}");
    // `learn` refuses to rewrite a file it cannot read whole: an editor's line would be lost.
    let (ok, _, stderr) = run(&["learn"], kb.path(), data.path());
    assert!(!ok);
    assert!(stderr.contains("answers.jsonl:2"), "{stderr}");
}

/// `POST /admin/learn`: the same export on a running server, a dry run that writes
/// nothing, and a file it cannot read whole left as it was (a 422 naming its line).
#[tokio::test]
async fn the_admin_endpoint_learns_on_a_running_server() {
    let kb = common::small_kb(keep);
    let data = tempfile::tempdir().unwrap();
    let service = common::start_service(kb.path(), data.path()).await;
    // Tickets would wait for the classifier's first training (1080 tickets) on a
    // machine busy with other tests: trained first, as `serve` does at start.
    common::warm(&service).await;
    let base = common::spawn_app(service.clone()).await;
    assert_ne!(first_hit(&base, WORDED).await, TARGET);
    let customer = new_customer(&base).await;
    ticket_cited(&base, customer, "Bruit", "answered").await;
    let learn = |query: &'static str| {
        let url = format!("{base}/admin/learn{query}");
        async move { call(Method::POST, url, None, None).await }
    };
    let file = kb.path().join("confirmed/answers.jsonl");

    let (code, report) = learn("?dry_run=true").await;
    assert_eq!(code, 200, "{report}");
    assert_eq!(
        (&report["answers"], &report["by_agents"], &report["written"]),
        (&json!(1), &json!(1), &json!(false))
    );
    assert!(!file.exists(), "a dry run wrote the file");

    let (code, error) = learn("?dry_run=maybe").await;
    assert_eq!((code, &error["field"]), (400, &json!("dry_run")), "{error}");

    let (code, report) = learn("").await;
    assert_eq!((code, &report["written"]), (200, &json!(true)), "{report}");
    let written = std::fs::read_to_string(&file).unwrap();
    assert!(written.contains(TARGET) && written.contains("claque trois fois"));

    // An editor's line broken by hand: the export stops and the file stays as it was.
    let broken = format!("{written}{{\"text\": \"\", \"entries\": [\"{TARGET}\"]}}\n");
    std::fs::write(&file, &broken).unwrap();
    let (code, error) = learn("").await;
    assert_eq!(code, 422, "{error}");
    assert!(error.to_string().contains("answers.jsonl"), "{error}");
    assert_eq!(error["errors"][0]["line"], 2, "{error}");
    assert_eq!(std::fs::read_to_string(&file).unwrap(), broken);

    std::fs::write(&file, &written).unwrap();
    let (code, report) = call(
        Method::POST,
        format!("{base}/admin/reindex?wait=true"),
        None,
        None,
    )
    .await;
    assert_eq!(code, 200, "{report}");
    assert_eq!(report["confirmed"]["answers"], 1, "{report}");
    assert_eq!(first_hit(&base, WORDED).await, TARGET);
}

/// A customer's "not helpful" on an automatic reply: `learn` writes the message with the
/// entry that did not answer it, and after the reindex the same message is not answered
/// automatically with that entry again (the agent sees why), while other messages are.
#[tokio::test]
async fn an_automatic_reply_found_unhelpful_is_not_sent_again() {
    const ASKED: &str = "La C750 affiche 88 Toner cyan bas.";
    let kb = common::small_kb(keep);
    let data = tempfile::tempdir().unwrap();
    let base = served_at_fixed_threshold(kb.path(), data.path()).await;
    let customer = new_customer(&base).await;
    let (code, auto) = call(
        Method::POST,
        format!("{base}/tickets"),
        Some(json!({"customer_id": customer, "subject": "C750", "description": ASKED})),
        None,
    )
    .await;
    assert_eq!(code, 201, "{auto}");
    assert_eq!(auto["decision"], "auto", "{auto}");
    assert_eq!(auto["citations"][0]["kb_id"], TARGET, "{auto}");
    let id = auto["ticket_id"].as_i64().unwrap();
    post_ok(
        &base,
        &format!("/tickets/{id}/feedback"),
        json!({"helpful": false}),
    )
    .await;

    let (ok, stdout, stderr) = run(&["learn"], kb.path(), data.path());
    assert!(ok, "{stderr}");
    assert!(
        stdout.contains("1 automatic replies found unhelpful"),
        "{stdout}"
    );
    let line: Value = serde_json::from_str(
        std::fs::read_to_string(kb.path().join("confirmed/answers.jsonl"))
            .unwrap()
            .trim(),
    )
    .unwrap();
    assert_eq!(
        (
            &line["entries"],
            &line["not_answered_by"],
            &line["confirmed_by"]
        ),
        (&json!([]), &json!([TARGET]), &json!("customer")),
        "{line}"
    );
    // The mark holds against the entry as the customer read it.
    let read = line["not_answered_by_versions"][TARGET]
        .as_str()
        .unwrap_or_default();
    assert!(read.starts_with("r1-") && read.len() == 67, "{line}");
    let (ok, stdout, stderr) = run(&["reindex"], kb.path(), data.path());
    assert!(ok, "{stderr}");
    assert!(stdout.contains("unhelpful replies: 1 messages"), "{stdout}");
    assert!(!stdout.contains("lapsed"), "{stdout}");
    // An edit of what the customer never read (a tag) keeps the mark.
    let entry = kb.path().join(format!("entries/test/{TARGET}.toml"));
    let text = std::fs::read_to_string(&entry).unwrap();
    let tagged = text.replace(r#""niveau"]"#, r#""niveau", "avertissement"]"#);
    assert_ne!(tagged, text);
    std::fs::write(&entry, tagged).unwrap();
    let (ok, stdout, stderr) = run(&["reindex"], kb.path(), data.path());
    assert!(ok, "{stderr}");
    assert!(
        stdout.contains("unhelpful replies: 1 messages") && !stdout.contains("lapsed"),
        "{stdout}"
    );

    let base = served_at_fixed_threshold(kb.path(), data.path()).await;
    let again = post_ok(&base, "/answer", json!({"text": ASKED})).await;
    assert_eq!(
        (&again["decision"], &again["reason"]),
        (&json!("escalate"), &json!("low_confidence")),
        "{again}"
    );
    assert!(again["notes"].to_string().contains("unhelpful"), "{again}");
    assert_eq!(again["retrieved"][0]["kb_id"], TARGET, "{again}");
    assert_eq!(again["retrieved"][0]["unhelpful_before"], true, "{again}");
    let found = post_ok(&base, "/knowledge/search", json!({"query": ASKED})).await;
    assert_eq!(
        found["results"][0]["retrieval"]["unhelpful_before"], true,
        "{found}"
    );
    // The same entry for a message asking it in the entry's own terms is not held back:
    // its passages say more for it than the unhelpful message does against it.
    let own_words = post_ok(
        &base,
        "/answer",
        json!({"text": "Que veut dire le message 88 Toner bas sur la C750 et comment remplacer la cartouche de toner ?"}),
    )
    .await;
    assert_eq!(own_words["retrieved"][0]["kb_id"], TARGET, "{own_words}");
    assert_eq!(
        own_words["retrieved"][0]["unhelpful_before"], false,
        "{own_words}"
    );

    // The editor rewrites the fix the customer found unhelpful: the mark lapses at the
    // next reindex, and the message is answered automatically again.
    let text = std::fs::read_to_string(&entry).unwrap();
    let rewritten = text.replace(
        "Commander la cartouche de la couleur concernée,",
        "Remplacer la cartouche de la couleur indiquée (voir les étapes), ou la commander,",
    );
    assert_ne!(rewritten, text);
    std::fs::write(&entry, rewritten).unwrap();
    let (ok, stdout, stderr) = run(&["reindex"], kb.path(), data.path());
    assert!(ok, "{stderr}");
    assert!(
        stdout.contains("unhelpful replies: 0 messages") && stdout.contains("1 marks lapsed"),
        "{stdout}"
    );
    let base = served_at_fixed_threshold(kb.path(), data.path()).await;
    let after_edit = post_ok(&base, "/answer", json!({"text": ASKED})).await;
    assert_eq!(after_edit["decision"], "auto", "{after_edit}");
    assert_eq!(after_edit["citations"][0]["kb_id"], TARGET, "{after_edit}");
    assert_eq!(
        after_edit["retrieved"][0]["unhelpful_before"], false,
        "{after_edit}"
    );
}

/// A message naming a model and a code one entry carries is ranked by BM25 alone, with no
/// vector; an editor's line saying that entry did not answer such a message still holds
/// it back (the message is then embedded and checked).
#[tokio::test]
async fn an_unhelpful_line_holds_back_a_message_bm25_alone_would_decide() {
    const ASKED: &str = "C750 : bourrage 201, que faire ?";
    const JAM: &str = "lexmark-c750-jam-201-unite-fusion";
    let kb = common::small_kb(keep);
    let data = tempfile::tempdir().unwrap();
    let base = served_at_fixed_threshold(kb.path(), data.path()).await;
    let before = post_ok(&base, "/answer", json!({"text": ASKED})).await;
    assert_eq!(
        (&before["decision"], &before["citations"][0]["kb_id"]),
        (&json!("auto"), &json!(JAM)),
        "{before}"
    );
    assert!(
        before["notes"]
            .to_string()
            .contains("bm25 alone was decisive"),
        "{before}"
    );

    let file = kb.path().join("confirmed/answers.jsonl");
    std::fs::create_dir_all(file.parent().unwrap()).unwrap();
    std::fs::write(
        &file,
        format!("{{\"text\": \"{ASKED}\", \"not_answered_by\": [\"{JAM}\"]}}\n"),
    )
    .unwrap();
    let base = served_at_fixed_threshold(kb.path(), data.path()).await;
    let after = post_ok(&base, "/answer", json!({"text": ASKED})).await;
    assert_eq!(
        (
            &after["decision"],
            &after["retrieved"][0]["unhelpful_before"]
        ),
        (&json!("escalate"), &json!(true)),
        "{after}"
    );
}
