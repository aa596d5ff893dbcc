//! Route × level matrix, generated from the OpenAPI document: for every documented operation,
//! each level gets exactly the outcome its `Level:` line (the contract's level column) says.
//! - no token → 401 on every non-public route;
//! - a level below the minimum → 403 "The user doesn't have enough privileges";
//! - a level at or above the minimum → never 401/403;
//! - level 1 on "own"/"scoped" routes with another user's ids → 403 or 404, never 2xx.

use gad_testkit::{TestApp, TestUser};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

struct Ids {
    user: i64,
    task: i64,
    codigo: String,
    efectivo: i64,
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Rule {
    Public,
    Min(i16),
    /// Level 1 allowed on its own objects only.
    Own,
    /// A machine credential (the Alertmanager webhook secret), not a user: no token and every
    /// user token, whatever the level, are 401.
    Machine,
}

fn rule(description: &str) -> Option<Rule> {
    let rest = description.strip_prefix("Level: ")?;
    if rest.starts_with("public") {
        return Some(Rule::Public);
    }
    if rest.starts_with("machine") {
        return Some(Rule::Machine);
    }
    let n: i16 = rest.chars().next()?.to_digit(10)? as i16;
    if n == 1 && (rest.starts_with("1 (own)") || rest.starts_with("1 (scoped)")) {
        return Some(Rule::Own);
    }
    Some(Rule::Min(n))
}

fn fill(path: &str, ids: &Ids) -> String {
    let mut out = String::new();
    for seg in path.split('/').filter(|s| !s.is_empty()) {
        out.push('/');
        if seg.starts_with('{') {
            let name = seg.trim_matches(|c| c == '{' || c == '}');
            let v = if name.contains("user") {
                ids.user.to_string()
            } else if name.contains("codigo") {
                ids.codigo.clone()
            } else if name.contains("task") || (name == "id" && path.contains("/tasks/")) {
                ids.task.to_string()
            } else if name.contains("efectivo") || (name == "id" && path.contains("/efectivos/")) {
                ids.efectivo.to_string()
            } else if name.contains("adjunto") {
                // An attachment of the task: the task's visibility decides first.
                "1".to_string()
            } else {
                "matrix-test".to_string()
            };
            out.push_str(&v);
        } else {
            out.push_str(seg);
        }
    }
    // Required query parameters of geo/suggestion routes.
    if path.contains("/geo/") || path.contains("/suggestions") {
        out.push_str("?lat=-34.6&lng=-58.38&center_lat=-34.6&center_lng=-58.38");
    }
    out
}

async fn call(
    app: &TestApp,
    method: &Method,
    path: &str,
    token: Option<&str>,
) -> (StatusCode, Value) {
    // A body that passes validation on the object routes (estado/lat/lng/texto), so object-level
    // checks are what decides; other routes answer 422, which is neither 401 nor 403.
    let body = if *method == Method::POST || *method == Method::PUT || *method == Method::PATCH {
        Some(json!({"estado": "en_curso", "lat": -34.6, "lng": -58.38, "texto": "matriz"}))
    } else {
        None
    };
    let r = app.request(method.clone(), path, token, body).await;
    (r.status, r.body)
}

/// Objects owned by `owner` (a level-1 officer): a task delegated to them.
async fn objects_of(app: &TestApp, owner: &TestUser, creator: &TestUser) -> Ids {
    let t = app
        .create_task(
            creator,
            owner.id,
            json!({"efectivos_asignados": [owner.efectivo_id]}),
        )
        .await;
    assert_eq!(t.status, StatusCode::CREATED, "fixture task: {}", t.text);
    Ids {
        user: owner.id,
        task: t.body["id"].as_i64().unwrap(),
        codigo: t.body["codigo"].as_str().unwrap().to_string(),
        efectivo: owner.efectivo_id.unwrap(),
    }
}

#[tokio::test]
async fn every_documented_route_enforces_its_level() {
    let app = TestApp::spawn().await;
    let supervisor = app.create_user(2).await;
    let me = app.create_efectivo(Some((-34.6, -58.38))).await;
    let other = app.create_efectivo(Some((-34.61, -58.39))).await;
    let mine = objects_of(&app, &me, &supervisor).await;
    let theirs = objects_of(&app, &other, &supervisor).await;
    let missing = Ids {
        user: 999_999,
        task: 999_999,
        codigo: "NO-SUCH-CODE".into(),
        efectivo: 999_999,
    };

    let doc = app.get("/api/v1/openapi.json", None).await.body;
    let mut checked = 0;
    let mut failures = Vec::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (m, op) in item.as_object().unwrap() {
            let Ok(method) = m.to_uppercase().parse::<Method>() else {
                continue;
            };
            let desc = op["description"].as_str().unwrap_or("");
            let Some(rule) = rule(desc) else {
                failures.push(format!("{m} {path}: description lacks a 'Level:' line"));
                continue;
            };
            if path.contains("/auth/logout") || path.contains("_test") {
                continue; // logout revokes the token; covered in auth tests
            }
            let destructive = method == Method::DELETE;
            checked += 1;
            match rule {
                Rule::Public => {
                    let (s, _) = call(&app, &method, &fill(path, &missing), None).await;
                    if s == StatusCode::UNAUTHORIZED || s == StatusCode::FORBIDDEN {
                        failures.push(format!(
                            "{m} {path}: public route answered {s} without a token"
                        ));
                    }
                }
                Rule::Machine => {
                    let (s, b) = call(&app, &method, &fill(path, &missing), None).await;
                    if s != StatusCode::UNAUTHORIZED || b["detail"] != "Not authenticated" {
                        failures.push(format!("{m} {path}: no token → {s} {b}"));
                    }
                    for level in 1..=3i16 {
                        let uid = if level == 1 { me.id } else { supervisor.id };
                        let token = app.token_for(uid, level);
                        let (s, b) = call(&app, &method, &fill(path, &missing), Some(&token)).await;
                        if s != StatusCode::UNAUTHORIZED {
                            failures.push(format!(
                                "{m} {path}: machine route took a level-{level} user token → {s} {b}"
                            ));
                        }
                    }
                }
                Rule::Min(_) | Rule::Own => {
                    let min = min_of(rule);
                    let (s, b) = call(&app, &method, &fill(path, &theirs), None).await;
                    if s != StatusCode::UNAUTHORIZED || b["detail"] != "Not authenticated" {
                        failures.push(format!("{m} {path}: no token → {s} {b}"));
                    }
                    for level in 1..=3i16 {
                        let user = match level {
                            1 => &me,
                            2 => &supervisor,
                            _ => &supervisor,
                        };
                        let uid = if level == 3 {
                            app.create_user(3).await.id
                        } else {
                            user.id
                        };
                        let token = app.token_for(uid, level);
                        // Allowed levels use a missing id for deletes so fixtures survive.
                        let target = if destructive && level >= min {
                            &missing
                        } else {
                            &theirs
                        };
                        let (s, b) = call(&app, &method, &fill(path, target), Some(&token)).await;
                        if level < min {
                            if s != StatusCode::FORBIDDEN
                                || b["detail"] != "The user doesn't have enough privileges"
                            {
                                failures
                                    .push(format!("{m} {path}: level {level} < {min} → {s} {b}"));
                            }
                        } else if rule == Rule::Own && level == 1 {
                            if path.contains('{')
                                && s != StatusCode::FORBIDDEN
                                && s != StatusCode::NOT_FOUND
                            {
                                failures.push(format!(
                                    "{m} {path}: level 1 on another user's object → {s} {b}"
                                ));
                            }
                            let own_target = if destructive { &missing } else { &mine };
                            let (s, b) =
                                call(&app, &method, &fill(path, own_target), Some(&token)).await;
                            if s == StatusCode::UNAUTHORIZED || s == StatusCode::FORBIDDEN {
                                failures.push(format!(
                                    "{m} {path}: level 1 on its own object → {s} {b}"
                                ));
                            }
                        } else if s == StatusCode::UNAUTHORIZED || s == StatusCode::FORBIDDEN {
                            failures.push(format!("{m} {path}: level {level} ≥ {min} → {s} {b}"));
                        }
                        if s.is_server_error() {
                            failures.push(format!("{m} {path}: level {level} → 5xx {b}"));
                        }
                    }
                }
            }
        }
    }
    assert!(checked >= 10, "only {checked} operations found");
    assert!(
        failures.is_empty(),
        "{} violations:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

fn min_of(r: Rule) -> i16 {
    match r {
        Rule::Public | Rule::Machine => 0,
        Rule::Own => 1,
        Rule::Min(n) => n,
    }
}
