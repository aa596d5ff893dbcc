//! Deploy and monitoring files tell the truth:
//! - every environment variable the Dockerfile, the compose files and scripts/staging.sh pass to
//!   `gad` is one gad reads (`gad_service::config::KNOWN_ENV_VARS`);
//! - every series deploy/alerts.yml references is exported by a running app's /metrics, with the
//!   labels the rules select on.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn read(rel: &str) -> String {
    std::fs::read_to_string(root().join(rel)).unwrap_or_else(|e| panic!("{rel}: {e}"))
}

fn known(v: &str) -> bool {
    gad_service::config::KNOWN_ENV_VARS.contains(&v)
}

/// Compose-level interpolation variables that only shape values (never passed to gad as names).
const COMPOSE_ONLY: &[&str] = &["GAD_DOMAIN"];

/// `${VAR}`, `${VAR:-x}`, `${VAR:?msg}` and `$VAR` references in a string.
fn interpolations(s: &str) -> Vec<String> {
    let mut out = Vec::new();
    let b = s.as_bytes();
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'$' && i + 1 < b.len() && b[i + 1] == b'$' {
            i += 2; // escaped $$ (compose)
            continue;
        }
        if b[i] == b'$' {
            let start = if b.get(i + 1) == Some(&b'{') {
                i + 2
            } else {
                i + 1
            };
            let mut j = start;
            while j < b.len() && (b[j].is_ascii_alphanumeric() || b[j] == b'_') {
                j += 1;
            }
            if j > start {
                out.push(s[start..j].to_string());
            }
            i = j.max(i + 1);
        } else {
            i += 1;
        }
    }
    out
}

// ------------------------------------------------------------ a minimal YAML reader for compose

#[derive(Debug, Default, Clone)]
struct Node {
    value: String,
    /// Mapping children in order (list items get the key "-").
    children: Vec<(String, Node)>,
}

fn indent_of(l: &str) -> usize {
    l.len() - l.trim_start().len()
}

fn strip_comment(l: &str) -> &str {
    // Good enough for our files: a " #" outside quotes starts a comment.
    let mut in_q: Option<char> = None;
    for (i, c) in l.char_indices() {
        match (in_q, c) {
            (None, '"' | '\'') => in_q = Some(c),
            (Some(q), c) if c == q => in_q = None,
            (None, '#') if i == 0 || l[..i].ends_with(' ') => return &l[..i],
            _ => {}
        }
    }
    l
}

/// Parses block-style YAML (mappings, `- ` lists, `&anchor`/`*alias`), flow values kept as text.
fn parse_yaml(text: &str) -> (Node, BTreeMap<String, Node>) {
    let lines: Vec<&str> = text
        .lines()
        .map(strip_comment)
        .filter(|l| !l.trim().is_empty())
        .collect();
    let mut anchors = BTreeMap::new();
    let (node, _) = parse_block(&lines, 0, 0, &mut anchors);
    (node, anchors)
}

fn parse_block(
    lines: &[&str],
    mut i: usize,
    indent: usize,
    anchors: &mut BTreeMap<String, Node>,
) -> (Node, usize) {
    let mut node = Node::default();
    while i < lines.len() {
        let l = lines[i];
        let ind = indent_of(l);
        if ind < indent {
            break;
        }
        let t = l.trim();
        let (key, rest) = if let Some(item) = t.strip_prefix("- ") {
            ("-".to_string(), item.trim().to_string())
        } else if let Some((k, v)) = t
            .split_once(':')
            .filter(|(k, _)| !k.contains(' ') || k.starts_with('"'))
        {
            (k.trim_matches('"').to_string(), v.trim().to_string())
        } else {
            (String::new(), t.to_string())
        };
        i += 1;
        let mut child = Node::default();
        let mut anchor = None;
        let mut value = rest;
        if let Some(a) = value.strip_prefix('&') {
            let (name, after) = a.split_once(' ').unwrap_or((a, ""));
            anchor = Some(name.to_string());
            value = after.trim().to_string();
        }
        if let Some(alias) = value.strip_prefix('*') {
            child = anchors
                .get(alias)
                .cloned()
                .unwrap_or_else(|| panic!("unknown alias *{alias}"));
        } else {
            child.value = value;
        }
        if i < lines.len() && indent_of(lines[i]) > ind {
            let (sub, ni) = parse_block(lines, i, indent_of(lines[i]), anchors);
            child.children = sub.children;
            i = ni;
        }
        if let Some(a) = anchor {
            anchors.insert(a, child.clone());
        }
        node.children.push((key, child));
    }
    (node, i)
}

impl Node {
    fn get(&self, k: &str) -> Option<&Node> {
        self.children
            .iter()
            .find(|(key, _)| key == k)
            .map(|(_, n)| n)
    }
}

/// The environment a compose service passes to its container: name → value.
fn service_env(svc: &Node) -> Vec<(String, String)> {
    let Some(env) = svc.get("environment") else {
        return vec![];
    };
    env.children
        .iter()
        .map(|(k, n)| {
            if k == "-" {
                let (name, v) = n.value.split_once('=').unwrap_or((&n.value, ""));
                (name.to_string(), v.to_string())
            } else {
                (k.clone(), n.value.clone())
            }
        })
        .collect()
}

fn is_gad_service(svc: &Node) -> bool {
    svc.get("build").is_some()
        || svc
            .get("image")
            .is_some_and(|i| i.value.trim_matches('"').starts_with("gad:"))
}

/// Problems in one compose file: variables given to gad services that gad does not read.
fn compose_problems(text: &str) -> (Vec<String>, BTreeMap<String, Vec<String>>) {
    let (doc, _) = parse_yaml(text);
    let services = doc.get("services").expect("services:");
    let mut problems = Vec::new();
    let mut seen = BTreeMap::new();
    for (name, svc) in &services.children {
        if !is_gad_service(svc) {
            continue;
        }
        let env = service_env(svc);
        for (k, v) in &env {
            if !known(k) {
                problems.push(format!("service {name}: {k} is not a variable gad reads"));
            }
            for var in interpolations(v) {
                if !known(&var) && !COMPOSE_ONLY.contains(&var.as_str()) {
                    problems.push(format!(
                        "service {name}: ${{{var}}} in {k} is not a variable gad reads"
                    ));
                }
            }
        }
        seen.insert(name.clone(), env.into_iter().map(|(k, _)| k).collect());
    }
    (problems, seen)
}

#[test]
fn the_checker_itself_catches_an_unknown_variable() {
    let bad = "services:\n  gad:\n    image: gad:x\n    environment:\n      DATABASE_URL: postgres://x\n      SECRET_KEYS: nope\n      PORT: ${APP_PORT}\n  other:\n    image: redis\n    environment:\n      - WHATEVER=1\n";
    let (p, seen) = compose_problems(bad);
    assert_eq!(seen.keys().collect::<Vec<_>>(), vec!["gad"]);
    assert_eq!(p.len(), 2, "{p:?}");
    assert!(
        p[0].contains("SECRET_KEYS") && p[1].contains("APP_PORT"),
        "{p:?}"
    );
    let list = "x-e: &e\n  - HOST=0.0.0.0\n  - FOO=1\nservices:\n  gad:\n    build: .\n    environment: *e\n";
    let (p, _) = compose_problems(list);
    assert_eq!(p, vec!["service gad: FOO is not a variable gad reads"]);
}

#[test]
fn compose_files_pass_gad_only_variables_it_reads() {
    let (p, seen) = compose_problems(&read("deploy/docker-compose.yml"));
    assert!(p.is_empty(), "{p:#?}");
    assert_eq!(
        seen.keys().collect::<Vec<_>>(),
        vec!["bot", "gad", "migrate"],
        "gad services found"
    );
    assert!(
        seen["bot"].iter().any(|k| k == "TELEGRAM_TOKEN"),
        "{seen:?}"
    );
    assert!(
        seen["gad"].iter().any(|k| k == "DATABASE_URL") && seen["gad"].len() >= 6,
        "{seen:?}"
    );

    let (p, seen) = compose_problems(&read("deploy/docker-compose.staging.yml"));
    assert!(p.is_empty(), "{p:#?}");
    assert_eq!(
        seen.keys().collect::<Vec<_>>(),
        vec!["gad1", "gad2", "migrate"],
        "gad services found"
    );
    for s in ["gad1", "gad2", "migrate"] {
        for k in [
            "ENVIRONMENT",
            "JWT_SECRET_KEY",
            "POSTGRES_PASSWORD",
            "REDIS_PASSWORD",
            "TRUSTED_PROXY_HOSTS",
        ] {
            assert!(seen[s].iter().any(|x| x == k), "{s} gets {k}: {seen:?}");
        }
    }
    // Staging really is staging, with a password on Redis and rate limiting on.
    let staging = read("deploy/docker-compose.staging.yml");
    assert!(staging.contains("ENVIRONMENT: staging"));
    assert!(staging.contains("--requirepass"));
    assert!(staging.contains("RATE_LIMITING_ENABLED: \"true\""));
    assert!(
        staging.contains("postgis/postgis:15-3.4")
            && read("deploy/docker-compose.yml").contains("postgis/postgis:15-3.4")
    );
}

#[test]
fn dockerfile_is_multistage_non_root_with_a_readiness_healthcheck() {
    let d = read("deploy/Dockerfile");
    let froms = d.lines().filter(|l| l.starts_with("FROM ")).count();
    assert!(froms >= 2, "multi-stage");
    assert!(
        d.lines()
            .any(|l| l.starts_with("USER ") && !l.contains("root")),
        "non-root USER"
    );
    assert!(d.contains("HEALTHCHECK") && d.contains("/api/v1/health/ready"));
    assert!(d.contains("CMD [\"serve\"]"));
    let mut n = 0;
    for l in d.lines().filter(|l| l.starts_with("ENV ")) {
        for pair in l[4..].split_whitespace() {
            let k = pair.split('=').next().unwrap();
            assert!(known(k), "Dockerfile ENV {k} is not a variable gad reads");
            n += 1;
        }
    }
    assert!(n >= 3);
    for var in interpolations(&d) {
        assert!(
            known(&var),
            "Dockerfile uses ${var}, which gad does not read"
        );
    }
}

#[test]
fn staging_script_exports_only_variables_gad_reads() {
    let s = read("scripts/staging.sh");
    let mut n = 0;
    for l in s
        .lines()
        .map(str::trim)
        .filter(|l| l.starts_with("export ") && !l.starts_with("export -n"))
    {
        // export A=1 B="$x" C
        let mut rest = &l[7..];
        while !rest.is_empty() {
            let end = rest
                .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                .unwrap_or(rest.len());
            let name = &rest[..end];
            assert!(
                known(name),
                "staging.sh exports {name}, which gad does not read: {l}"
            );
            n += 1;
            rest = &rest[end..];
            if let Some(r) = rest.strip_prefix('=') {
                // skip the value: quoted or up to whitespace
                let r = r.trim_start();
                let skip = if let Some(q) = r.strip_prefix('"') {
                    q.find('"').map(|i| i + 2).unwrap_or(r.len())
                } else {
                    r.find(' ').unwrap_or(r.len())
                };
                rest = &r[skip..];
            }
            rest = rest.trim_start();
        }
    }
    assert!(n >= 8, "found {n} exported variables");
    assert!(s.contains("ENVIRONMENT=staging") && s.contains("RATE_LIMITING_ENABLED=true"));
}

#[test]
fn caddyfile_has_tls_hsts_and_both_instances_with_health_checks() {
    let c = read("deploy/Caddyfile");
    assert!(c.contains("Strict-Transport-Security \"max-age="));
    assert!(c.contains("reverse_proxy gad1:8000 gad2:8000"));
    assert!(c.contains("health_uri /api/v1/health/ready"));
    // A site address that is a host name (not :80 / http://) means automatic HTTPS.
    assert!(!c.contains("http://") && !c.contains("auto_https off"));
}

// ------------------------------------------------------------ monitoring

const PROMQL_WORDS: &[&str] = &[
    "sum",
    "by",
    "without",
    "rate",
    "irate",
    "increase",
    "histogram_quantile",
    "clamp_min",
    "clamp_max",
    "and",
    "or",
    "unless",
    "absent",
    "on",
    "ignoring",
    "group_left",
    "group_right",
    "avg",
    "max",
    "min",
    "count",
    "topk",
    "bool",
    "offset",
    "delta",
    "deriv",
    "abs",
    "e",
];

/// (metric, label names it is selected with) for every series in the `expr:` of alerts.yml.
fn referenced_series(alerts: &str) -> BTreeMap<String, BTreeSet<String>> {
    // Collect expressions (single-line or `|` blocks).
    let mut exprs = Vec::new();
    let lines: Vec<&str> = alerts.lines().collect();
    let mut i = 0;
    while i < lines.len() {
        let t = lines[i].trim().trim_start_matches("- ");
        if let Some(e) = t.strip_prefix("expr:") {
            let e = e.trim();
            if e == "|" || e == ">" {
                let ind = indent_of(lines[i]);
                let mut block = String::new();
                i += 1;
                while i < lines.len() && (lines[i].trim().is_empty() || indent_of(lines[i]) > ind) {
                    block.push_str(lines[i]);
                    block.push('\n');
                    i += 1;
                }
                exprs.push(block);
                continue;
            }
            exprs.push(e.to_string());
        }
        i += 1;
    }
    assert!(exprs.len() >= 6, "found {} alert expressions", exprs.len());
    let mut out: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for e in exprs {
        let c: Vec<char> = e.chars().collect();
        let mut j = 0;
        while j < c.len() {
            if c[j].is_ascii_alphabetic() || c[j] == '_' {
                let s = j;
                while j < c.len() && (c[j].is_ascii_alphanumeric() || c[j] == '_' || c[j] == ':') {
                    j += 1;
                }
                let word: String = c[s..j].iter().collect();
                // Skip grouping label lists: by (a, b) / without (…) / on (…)
                if matches!(word.as_str(), "by" | "without" | "on" | "ignoring") {
                    while j < c.len() && c[j] != ')' {
                        j += 1;
                    }
                    continue;
                }
                let mut k = j;
                while k < c.len() && c[k] == ' ' {
                    k += 1;
                }
                if PROMQL_WORDS.contains(&word.as_str()) || (k < c.len() && c[k] == '(') {
                    continue; // a function or keyword
                }
                let labels = out.entry(word).or_default();
                if k < c.len() && c[k] == '{' {
                    let end = c[k..].iter().position(|&x| x == '}').unwrap() + k;
                    let sel: String = c[k + 1..end].iter().collect();
                    for m in sel.split(',') {
                        let name = m.split(['=', '!', '~']).next().unwrap().trim();
                        if !name.is_empty() {
                            labels.insert(name.to_string());
                        }
                    }
                    j = end + 1;
                }
            } else if c[j] == '"' {
                j += 1;
                while j < c.len() && c[j] != '"' {
                    j += 1;
                }
                j += 1;
            } else if c[j] == '[' {
                while j < c.len() && c[j] != ']' {
                    j += 1;
                }
            } else if c[j].is_ascii_digit() {
                while j < c.len() && (c[j].is_ascii_alphanumeric() || c[j] == '.' || c[j] == '-') {
                    j += 1;
                }
            } else {
                j += 1;
            }
        }
    }
    out
}

#[tokio::test]
async fn every_series_in_alerts_yml_is_exported_by_the_app_with_its_labels() {
    let alerts = read("deploy/alerts.yml");
    let refs = referenced_series(&alerts);
    for want in [
        "http_requests_total",
        "http_request_duration_seconds_bucket",
        "redis_up",
        "ws_connections_active",
        "emergency_dispatch_total",
        "up",
    ] {
        assert!(
            refs.contains_key(want),
            "alerts.yml covers {want}: {refs:?}"
        );
    }
    assert!(alerts.contains("histogram_quantile(0.99"));
    assert!(alerts.contains("result=\"none_available\""));

    let app = gad_testkit::TestApp::spawn_with_redis().await;
    let u = app.create_user(1).await;
    app.get("/api/v1/users/me", Some(&u.token)).await;
    app.get("/api/v1/users/me", None).await;
    let r = app.get("/metrics", None).await;
    assert_eq!(r.status, 200);
    let text = r.text;
    // Prometheus adds these to every scraped series.
    let target_labels = ["job", "instance"];
    for (metric, labels) in &refs {
        if metric == "up" {
            continue; // Prometheus' own per-target series
        }
        let base = ["_bucket", "_sum", "_count"]
            .iter()
            .find_map(|s| metric.strip_suffix(s))
            .filter(|b| text.contains(&format!("# TYPE {b} histogram")));
        let declared = match base {
            Some(b) => format!("# TYPE {b} histogram"),
            None => format!("# TYPE {metric} "),
        };
        assert!(
            text.contains(&declared),
            "alerts.yml uses {metric}, not exported by /metrics"
        );
        let samples: Vec<&str> = text
            .lines()
            .filter(|l| {
                l.starts_with(&format!("{metric}{{")) || l.starts_with(&format!("{metric} "))
            })
            .collect();
        assert!(!samples.is_empty(), "{metric} has samples");
        for l in labels
            .iter()
            .filter(|l| !target_labels.contains(&l.as_str()))
        {
            assert!(
                samples.iter().any(|s| s.contains(&format!("{l}=\""))),
                "alerts.yml selects {metric} by label {l}, which /metrics never sets"
            );
        }
    }
    // Label values the rules match on exist.
    assert!(text.contains("emergency_dispatch_total{result=\"none_available\"}"));
    assert!(text.contains("emergency_dispatch_total{result=\"error\"}"));
    assert!(text.contains("db_pool_connections{state=\"idle\"}"));
    assert!(text.contains("db_pool_connections{state=\"in_use\"}"));
    assert!(text.contains("status=\"401\""));
}

#[test]
fn the_series_extractor_finds_metrics_and_skips_functions_and_labels() {
    let refs = referenced_series(
        "- expr: sum by (instance, le) (rate(foo_bucket{route!~\"/ws/.*\",le=\"1\"}[5m])) > 0.5\n- expr: bar == 0 and absent(up{job=\"gad\"})\n- expr: |\n    histogram_quantile(0.99, baz_total)\n- expr: a\n- expr: b\n- expr: c\n",
    );
    assert_eq!(
        refs.keys().map(String::as_str).collect::<Vec<_>>(),
        vec!["a", "b", "bar", "baz_total", "c", "foo_bucket", "up"]
    );
    assert_eq!(
        refs["foo_bucket"]
            .iter()
            .map(String::as_str)
            .collect::<Vec<_>>(),
        vec!["le", "route"]
    );
}

// ------------------------------------------------------------ staging proxy and alerting

/// The lines scripts/staging.sh rewrites to derive the staging Caddyfile must exist in the
/// production one, once each; otherwise staging would silently stop mirroring production.
#[test]
fn staging_derives_its_caddyfile_from_the_production_one() {
    let c = read("deploy/Caddyfile");
    let s = read("scripts/staging.sh");
    for anchor in [
        "{$GAD_DOMAIN:localhost} {",
        "\treverse_proxy gad1:8000 gad2:8000 {",
    ] {
        assert_eq!(
            c.lines().filter(|l| *l == anchor).count(),
            1,
            "deploy/Caddyfile must contain the line {anchor:?} exactly once (staging.sh rewrites it)"
        );
    }
    assert_eq!(
        c.lines().filter(|l| *l == "{").count(),
        1,
        "one global options block"
    );
    assert!(s.contains("\"$ROOT/deploy/Caddyfile\""));
    // gad trusts exactly the proxy's address, never the default loopback pair.
    assert!(s.contains("PROXY_SOURCE=127.0.0.1/32"));
    assert!(s.contains("export TRUSTED_PROXY_HOSTS=\"$PROXY_SOURCE\""));
    assert!(s.contains("PROXY_PORT=8081"));
}

/// A field of a list item: the reader keeps `- key: value` as the item's own value.
fn item_field(item: &Node, key: &str) -> Option<String> {
    item.value
        .strip_prefix(&format!("{key}:"))
        .map(|v| v.trim().to_string())
        .or_else(|| item.get(key).map(|n| n.value.clone()))
}

/// deploy/alertmanager.yml posts to the route gad serves, with the bearer secret gad reads, and
/// keeps resolved notifications.
#[test]
fn alertmanager_posts_to_the_webhook_route_with_the_bearer_secret() {
    let a = read("deploy/alertmanager.yml");
    let (doc, _) = parse_yaml(&a);
    let receivers = doc.get("receivers").expect("receivers:");
    let route_receiver = doc
        .get("route")
        .and_then(|r| r.get("receiver"))
        .expect("route.receiver")
        .value
        .clone();
    let mut webhooks = 0;
    for (_, r) in &receivers.children {
        let name = item_field(r, "name").unwrap_or_default();
        let Some(hooks) = r.get("webhook_configs") else {
            continue;
        };
        assert_eq!(
            name, route_receiver,
            "the default route uses the gad receiver"
        );
        for (_, h) in &hooks.children {
            webhooks += 1;
            let url = item_field(h, "url").expect("url");
            assert!(
                url.ends_with("/api/v1/alerts/alertmanager"),
                "webhook url {url} is not gad's route"
            );
            assert_eq!(h.get("send_resolved").expect("send_resolved").value, "true");
            let auth = h
                .get("http_config")
                .and_then(|c| c.get("authorization"))
                .expect("http_config.authorization");
            assert_eq!(auth.get("type").expect("type").value, "Bearer");
            assert!(
                auth.get("credentials_file").is_some(),
                "the secret comes from a file, never inline in git"
            );
            assert!(auth.get("credentials").is_none());
        }
    }
    assert!(webhooks >= 1, "no webhook receiver");
    assert!(known("ALERTMANAGER_WEBHOOK_TOKEN"));
    let openapi = read("docs/openapi.json");
    assert!(openapi.contains("\"/api/v1/alerts/alertmanager\""));
    // Prometheus sends its alerts to that Alertmanager.
    let p = read("deploy/prometheus.yml");
    assert!(p.contains("alertmanagers:") && p.contains("alertmanager:9093"));
}
