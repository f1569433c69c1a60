//! The test client of the OpenAPI test: it calls the real server and checks each request
//! body and answer against the document.

use std::collections::BTreeSet;

use devicekb::api::Verb;
use serde_json::Value;

use super::check::conforms;
use super::method;

/// Calls the real server and checks the answer against the document.
pub struct Client {
    pub base: String,
    pub http: reqwest::Client,
    pub doc: Value,
    pub called: BTreeSet<String>,
}

impl Client {
    /// `template` is the route as the table names it (`/tickets/{id}`), `path` the one
    /// called. Checks the body sent against the request schema too.
    pub async fn call(
        &mut self,
        verb: Verb,
        template: &str,
        path: &str,
        body: Option<Value>,
    ) -> (u16, Value) {
        self.send(verb, template, path, body, true).await
    }

    /// A request that is wrong on purpose: its body is not checked against the document.
    pub async fn call_wrong(
        &mut self,
        verb: Verb,
        template: &str,
        path: &str,
        body: Value,
    ) -> (u16, Value) {
        self.send(verb, template, path, Some(body), false).await
    }

    async fn send(
        &mut self,
        verb: Verb,
        template: &str,
        path: &str,
        body: Option<Value>,
        check_request: bool,
    ) -> (u16, Value) {
        let op = self.doc["paths"][template][method(verb)].clone();
        assert!(
            !op.is_null(),
            "{} {template} is not documented",
            verb.as_str()
        );
        let mut request = match verb {
            Verb::Get => self.http.get(format!("{}{path}", self.base)),
            Verb::Post => self.http.post(format!("{}{path}", self.base)),
            Verb::Patch => self.http.patch(format!("{}{path}", self.base)),
        };
        if let Some(body) = &body {
            let schema = &op["requestBody"]["content"]["application/json"]["schema"];
            if check_request {
                conforms(
                    &self.doc,
                    schema,
                    body,
                    &format!("request of {} {template}", verb.as_str()),
                );
            }
            request = request.json(body);
        }
        let response = request.send().await.expect("the server answers");
        let status = response.status().as_u16();
        let content_type = response
            .headers()
            .get("content-type")
            .map(|v| v.to_str().unwrap().to_string())
            .unwrap_or_default();
        let headers = response.headers().clone();
        let text = response.text().await.unwrap();
        let documented = &op["responses"][status.to_string()];
        assert!(
            !documented.is_null(),
            "{} {path} answered {status}, which the document does not list: {text}",
            verb.as_str()
        );
        let what = format!("{} {path} → {status}", verb.as_str());
        // Every header the document promises for this answer is sent.
        for name in documented["headers"]
            .as_object()
            .into_iter()
            .flat_map(|h| h.keys())
        {
            assert!(
                headers.contains_key(name.as_str()),
                "{what}: the documented {name} header is missing"
            );
        }
        let value = match documented["content"]["application/json"]["schema"].as_object() {
            Some(_) => {
                assert!(
                    content_type.starts_with("application/json"),
                    "{what}: {content_type}"
                );
                let value: Value = serde_json::from_str(&text).expect("a JSON answer");
                conforms(
                    &self.doc,
                    &documented["content"]["application/json"]["schema"],
                    &value,
                    &what,
                );
                value
            }
            None => {
                let media = documented["content"]
                    .as_object()
                    .unwrap()
                    .keys()
                    .next()
                    .unwrap();
                assert!(
                    content_type.starts_with(media.as_str())
                        || media == "application/openmetrics-text",
                    "{what}: {content_type}, documented {media}"
                );
                Value::String(text)
            }
        };
        self.called.insert(format!("{} {template}", verb.as_str()));
        (status, value)
    }
}
