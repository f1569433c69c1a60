//! Checks a JSON value against a part of the OpenAPI document: a JSON Schema validator
//! for what it says, and a walk for the fields it does not describe (schemas leave
//! `additionalProperties` open, so a validator alone would let undocumented fields pass).

use std::collections::BTreeSet;

use serde_json::{json, Value};

/// Follows a `$ref` to its schema in the document.
pub fn resolve<'a>(doc: &'a Value, schema: &'a Value) -> &'a Value {
    match schema.get("$ref").and_then(Value::as_str) {
        Some(reference) => {
            let name = reference
                .strip_prefix("#/components/schemas/")
                .unwrap_or_else(|| panic!("a reference outside the components: {reference}"));
            let target = &doc["components"]["schemas"][name];
            assert!(!target.is_null(), "{reference} does not resolve");
            resolve(doc, target)
        }
        None => schema,
    }
}

/// Every `$ref` anywhere in `value`.
pub fn references(value: &Value, out: &mut Vec<String>) {
    match value {
        Value::Object(map) => {
            for (key, item) in map {
                match (key.as_str(), item) {
                    ("$ref", Value::String(r)) => out.push(r.clone()),
                    _ => references(item, out),
                }
            }
        }
        Value::Array(items) => items.iter().for_each(|i| references(i, out)),
        _ => {}
    }
}

/// Checks `instance` against `schema` (a part of the document) with a JSON Schema
/// validator, then that every field of every object in it is documented.
pub fn conforms(doc: &Value, schema: &Value, instance: &Value, what: &str) {
    let root = json!({
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "allOf": [schema],
        "components": doc["components"],
    });
    let validator = jsonschema::validator_for(&root).expect("a valid schema");
    let errors: Vec<String> = validator
        .iter_errors(instance)
        .map(|e| format!("{} at {}", e, e.instance_path()))
        .collect();
    assert!(errors.is_empty(), "{what}: {errors:#?}\n{instance:#}");
    let mut undocumented = Vec::new();
    fields_documented(doc, schema, instance, "", &mut undocumented);
    assert!(
        undocumented.is_empty(),
        "{what}: fields the document does not describe: {undocumented:?}\n{instance:#}"
    );
}

/// The property names an object schema declares, through references and `allOf`.
fn declared(doc: &Value, schema: &Value, out: &mut BTreeSet<String>) -> bool {
    let schema = resolve(doc, schema);
    let mut open = false;
    if let Some(props) = schema.get("properties").and_then(Value::as_object) {
        out.extend(props.keys().cloned());
    }
    if let Some(parts) = schema.get("allOf").and_then(Value::as_array) {
        for part in parts {
            open |= declared(doc, part, out);
        }
    }
    // A free-form object (serde_json::Value) declares nothing and allows anything.
    if schema.get("properties").is_none() && schema.get("allOf").is_none() {
        open = true;
    }
    open
}

/// The schema of `key` in an object schema, through references and `allOf`.
fn property<'a>(doc: &'a Value, schema: &'a Value, key: &str) -> Option<&'a Value> {
    let schema = resolve(doc, schema);
    if let Some(found) = schema.get("properties").and_then(|p| p.get(key)) {
        return Some(found);
    }
    schema
        .get("allOf")
        .and_then(Value::as_array)?
        .iter()
        .find_map(|part| property(doc, part, key))
}

fn fields_documented(
    doc: &Value,
    schema: &Value,
    instance: &Value,
    at: &str,
    out: &mut Vec<String>,
) {
    let schema = resolve(doc, schema);
    for key in ["oneOf", "anyOf"] {
        if let Some(options) = schema.get(key).and_then(Value::as_array) {
            // The option with the fewest undocumented fields is the one the value took.
            let best = options
                .iter()
                .filter(|option| instance.is_null() || option.get("type") != Some(&json!("null")))
                .map(|option| {
                    let mut found = Vec::new();
                    fields_documented(doc, option, instance, at, &mut found);
                    found
                })
                .min_by_key(Vec::len)
                .unwrap_or_default();
            out.extend(best);
            return;
        }
    }
    match instance {
        Value::Object(map) => {
            let mut names = BTreeSet::new();
            if declared(doc, schema, &mut names) {
                return;
            }
            for (key, value) in map {
                match property(doc, schema, key) {
                    Some(inner) => {
                        fields_documented(doc, inner, value, &format!("{at}/{key}"), out)
                    }
                    None => out.push(format!("{at}/{key}")),
                }
            }
        }
        Value::Array(items) => {
            if let Some(inner) = schema.get("items") {
                for (i, item) in items.iter().enumerate() {
                    fields_documented(doc, inner, item, &format!("{at}/{i}"), out);
                }
            }
        }
        _ => {}
    }
}
