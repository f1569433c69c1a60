//! The compose file and the image, checked without a Docker engine (there is none on the
//! CI machines): the file is interpolated as Compose does, parsed against the Compose
//! specification (every key and value), and held to what the design card's stack needs.

use std::collections::HashMap;
use std::path::Path;

use serde_yaml::Value;

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// Compose's interpolation: `$$`, `$VAR`, `${VAR}`, `${VAR:-default}`, `${VAR-default}`,
/// `${VAR:?error}` and `${VAR?error}` (with `:`, an empty value counts as unset).
fn interpolate(text: &str, env: &HashMap<&str, &str>) -> Result<String, String> {
    let name_re = regex::Regex::new(r"^[A-Za-z_][A-Za-z0-9_]*").unwrap();
    let mut out = String::new();
    let mut rest = text;
    while let Some(at) = rest.find('$') {
        out.push_str(&rest[..at]);
        rest = &rest[at + 1..];
        if let Some(after) = rest.strip_prefix('$') {
            out.push('$');
            rest = after;
            continue;
        }
        let (expr, after) = match rest.strip_prefix('{') {
            Some(inner) => {
                let end = inner.find('}').ok_or("an unclosed ${")?;
                (&inner[..end], &inner[end + 1..])
            }
            None => {
                let name = name_re.find(rest).ok_or("a lone $")?.as_str();
                (name, &rest[name.len()..])
            }
        };
        let name = name_re.find(expr).ok_or("${} without a name")?.as_str();
        let op = &expr[name.len()..];
        let value = env.get(name).copied();
        let set = |empty_is_unset: bool| value.filter(|v| !(empty_is_unset && v.is_empty()));
        let resolved = if op.is_empty() {
            value.unwrap_or_default().to_string()
        } else if let Some(default) = op.strip_prefix(":-") {
            set(true).unwrap_or(default).to_string()
        } else if let Some(default) = op.strip_prefix('-') {
            set(false).unwrap_or(default).to_string()
        } else if let Some(error) = op.strip_prefix(":?") {
            set(true).ok_or(format!("{name}: {error}"))?.to_string()
        } else if let Some(error) = op.strip_prefix('?') {
            set(false).ok_or(format!("{name}: {error}"))?.to_string()
        } else {
            return Err(format!("unknown interpolation `${{{expr}}}`"));
        };
        out.push_str(&resolved);
        rest = after;
    }
    out.push_str(rest);
    Ok(out)
}

/// The compose file parsed, every string value interpolated (as Compose does: after
/// parsing, so comments are never read).
fn interpolated(env: &HashMap<&str, &str>) -> Result<Value, String> {
    fn walk(value: &mut Value, env: &HashMap<&str, &str>) -> Result<(), String> {
        match value {
            Value::String(text) => *text = interpolate(text, env)?,
            Value::Sequence(items) => {
                for item in items {
                    walk(item, env)?;
                }
            }
            Value::Mapping(map) => {
                for (_, item) in map.iter_mut() {
                    walk(item, env)?;
                }
            }
            _ => {}
        }
        Ok(())
    }
    let text = std::fs::read_to_string(root().join("docker-compose.yml")).unwrap();
    let mut compose: Value = serde_yaml::from_str(&text).expect("docker-compose.yml is YAML");
    walk(&mut compose, env)?;
    Ok(compose)
}

fn secrets() -> HashMap<&'static str, &'static str> {
    HashMap::from([
        (
            "DEVICEKB_ADMIN_KEY",
            "an-admin-key-of-forty-characters-or-so-xx",
        ),
        ("MYSQL_PASSWORD", "a-database-password"),
    ])
}

#[test]
fn the_compose_file_follows_the_compose_specification() {
    let text = serde_yaml::to_string(&interpolated(&secrets()).unwrap()).unwrap();
    let compose: compose_spec::Compose =
        serde_yaml::from_str(&text).unwrap_or_else(|e| panic!("docker-compose.yml: {e}"));
    compose
        .validate_all()
        .unwrap_or_else(|e| panic!("docker-compose.yml: {e}"));
    // The check is a real one: a misspelt key or a wrong value is refused.
    for broken in [
        text.replace("healthcheck:", "healthchek:"),
        text.replace("condition: service_healthy", "condition: when_healthy"),
        text.replace("interval: 5s", "interval: five seconds"),
    ] {
        assert!(
            serde_yaml::from_str::<compose_spec::Compose>(&broken).is_err(),
            "accepted:\n{broken}"
        );
    }
}

#[test]
fn compose_refuses_to_start_without_the_admin_key_or_the_database_password() {
    for missing in ["DEVICEKB_ADMIN_KEY", "MYSQL_PASSWORD"] {
        let mut env = secrets();
        env.remove(missing);
        let error = interpolated(&env).unwrap_err();
        assert!(error.starts_with(missing), "{error}");
    }
}

fn get<'a>(value: &'a Value, path: &[&str]) -> &'a Value {
    path.iter().fold(value, |v, key| &v[*key])
}

#[test]
fn the_stack_is_the_design_cards_healthy_and_in_order() {
    let compose = interpolated(&secrets()).unwrap();
    let services = compose["services"].as_mapping().unwrap();
    let names: Vec<&str> = services.keys().filter_map(Value::as_str).collect();
    assert_eq!(names, ["mysql", "devicekb", "qdrant"]);

    let devicekb = &compose["services"]["devicekb"];
    let env = &devicekb["environment"];
    assert!(env["DATABASE_URL"]
        .as_str()
        .unwrap()
        .starts_with("mysql://devicekb:a-database-password@mysql:3306/"));
    assert!(env["QDRANT_URL"].is_string(), "QDRANT_URL is passed on");
    assert!(env["DEVICEKB_ADMIN_KEY"].as_str().unwrap().len() >= 32);

    // Every dependency waits for a health check that exists.
    let depends = devicekb["depends_on"].as_mapping().unwrap();
    assert_eq!(depends.len(), 2);
    for (name, dependency) in depends {
        let name = name.as_str().unwrap();
        assert_eq!(dependency["condition"], "service_healthy", "{name}");
        let check = get(&compose, &["services", name, "healthcheck", "test"]);
        assert!(check.is_sequence(), "{name} has no healthcheck");
    }
    assert_eq!(
        get(devicekb, &["depends_on", "qdrant", "required"]).as_bool(),
        Some(false)
    );

    // Data lives in named volumes, each declared.
    let declared = compose["volumes"].as_mapping().unwrap();
    for (service, path) in [
        ("mysql", "/var/lib/mysql"),
        ("devicekb", "/srv/devicekb/data"),
        ("qdrant", "/qdrant/storage"),
    ] {
        let volumes = get(&compose, &["services", service, "volumes"]);
        let named = volumes
            .as_sequence()
            .unwrap()
            .iter()
            .filter_map(Value::as_str)
            .find_map(|v| v.strip_suffix(&format!(":{path}")))
            .unwrap_or_else(|| panic!("{service}: nothing mounted on {path}"));
        assert!(
            declared.contains_key(named),
            "{service}: volume {named} is not declared"
        );
    }
}

#[test]
fn the_image_runs_unprivileged_probes_readiness_and_carries_only_the_int8_model() {
    let dockerfile = std::fs::read_to_string(root().join("Dockerfile")).unwrap();
    let runtime = dockerfile.split("\nFROM ").last().expect("a runtime stage");
    let user = runtime
        .lines()
        .find_map(|l| l.strip_prefix("USER "))
        .expect("a USER line in the runtime stage");
    assert!(!["root", "0"].contains(&user.trim()), "runs as {user}");
    assert!(runtime.contains("HEALTHCHECK") && runtime.contains("/readyz"));
    let models: Vec<&str> = runtime
        .lines()
        .filter(|l| l.starts_with("COPY") && l.contains("/models/"))
        .collect();
    assert_eq!(models.len(), 1, "{models:?}");
    assert!(models[0].contains("int8"), "{models:?}");
    // The model is set up before the sources are copied, so a source change keeps its layer.
    let setup = dockerfile.find("scripts/setup.sh").unwrap();
    let sources = dockerfile.find("COPY . .").unwrap();
    assert!(setup < sources);

    let ignored = std::fs::read_to_string(root().join(".dockerignore")).unwrap();
    for pattern in ["target/", ".git/"] {
        assert!(ignored.lines().any(|l| l.trim() == pattern), "{pattern}");
    }
}

#[test]
fn interpolation_follows_compose() {
    let env = HashMap::from([("SET", "x"), ("EMPTY", "")]);
    for (text, expected) in [
        ("$SET-${SET}", "x-x"),
        ("${UNSET:-d} ${EMPTY:-d} ${EMPTY-d}", "d d "),
        ("$$SET", "$SET"),
    ] {
        assert_eq!(interpolate(text, &env).unwrap(), expected, "{text}");
    }
    assert!(interpolate("${EMPTY:?needed}", &env).is_err());
    assert!(interpolate("${EMPTY?needed}", &env).is_ok());
}
