//! The HTTP API against a real PostgreSQL (`KVSTORE_POSTGRES_URL`, which `scripts/test.sh`
//! sets after starting a private server): accounts and sessions, isolation between accounts,
//! batches with preconditions, reads, scans, the feed and its long poll, limits and CORS, and
//! the binary itself serving and stopping on SIGTERM.
#![cfg(not(target_arch = "wasm32"))]

use std::time::{Duration, Instant};

use axum::body::Body;
use axum::http::{Request, StatusCode};
use axum::Router;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use base64::Engine;
use http_body_util::BodyExt;
use kvstore::PostgresStore;
use serde_json::{json, Value};
use tower::ServiceExt;
use vault_server::{app, AppState, Config, HashCost};

mod common;

fn url() -> String {
    std::env::var("KVSTORE_POSTGRES_URL").expect(
        "KVSTORE_POSTGRES_URL is not set: run scripts/test.sh (it starts a private PostgreSQL)",
    )
}

async fn server(config: Config) -> Router {
    let store = PostgresStore::connect(&url()).await.unwrap();
    let config = Config {
        hash_cost: HashCost::INSECURE_FOR_TESTS,
        ..config
    };
    app(AppState::new(store, config).unwrap())
}

fn b64(bytes: &[u8]) -> String {
    B64.encode(bytes)
}

fn name() -> String {
    format!("user-{:016x}", fastrand::u64(..))
}

async fn call(
    app: &Router,
    method: &str,
    uri: &str,
    token: Option<&str>,
    body: Option<Value>,
) -> (StatusCode, Value) {
    let mut request = Request::builder().method(method).uri(uri);
    if let Some(token) = token {
        request = request.header("authorization", format!("Bearer {token}"));
    }
    let request = match body {
        Some(body) => request
            .header("content-type", "application/json")
            .body(Body::from(body.to_string())),
        None => request.body(Body::empty()),
    }
    .unwrap();
    let response = app.clone().oneshot(request).await.unwrap();
    let status = response.status();
    let bytes = response.into_body().collect().await.unwrap().to_bytes();
    let value = serde_json::from_slice(&bytes)
        .unwrap_or(Value::String(String::from_utf8_lossy(&bytes).into_owned()));
    (status, value)
}

/// A new account, logged in: (name, token).
async fn account(app: &Router) -> (String, String) {
    let name = name();
    let key = b64(&[7u8; 32]);
    let (status, _) = call(
        app,
        "POST",
        "/v1/accounts",
        None,
        Some(json!({"account": name, "auth_key": key})),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED);
    let (status, body) = call(
        app,
        "POST",
        "/v1/sessions",
        None,
        Some(json!({"account": name, "auth_key": key})),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    (name, body["token"].as_str().unwrap().to_owned())
}

#[tokio::test]
async fn accounts_sessions_and_isolation() {
    let app = server(Config::default()).await;
    let name = name();
    let key = b64(&[1u8; 32]);
    let creds = json!({"account": name, "auth_key": key});
    assert_eq!(
        call(&app, "POST", "/v1/accounts", None, Some(creds.clone()))
            .await
            .0,
        StatusCode::CREATED
    );
    let (status, body) = call(&app, "POST", "/v1/accounts", None, Some(creds.clone())).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (StatusCode::CONFLICT, Some("ACCOUNT_EXISTS"))
    );
    for bad in [
        json!({"account": "a b", "auth_key": key}),
        json!({"account": "ok", "auth_key": b64(&[1; 31])}),
    ] {
        assert_eq!(
            call(&app, "POST", "/v1/accounts", None, Some(bad)).await.0,
            StatusCode::BAD_REQUEST
        );
    }
    let wrong = json!({"account": name, "auth_key": b64(&[2u8; 32])});
    let (status, body) = call(&app, "POST", "/v1/sessions", None, Some(wrong)).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (StatusCode::UNAUTHORIZED, Some("UNAUTHORIZED"))
    );
    let unknown = json!({"account": name + "x", "auth_key": key});
    assert_eq!(
        call(&app, "POST", "/v1/sessions", None, Some(unknown))
            .await
            .0,
        StatusCode::UNAUTHORIZED
    );

    let (_, alice) = account(&app).await;
    let (_, bob) = account(&app).await;
    let set = json!({"ops": [{"op": "set", "key": b64(b"k"), "value": b64(b"alice's")}]});
    assert_eq!(
        call(&app, "POST", "/v1/ns/vault/batch", Some(&alice), Some(set))
            .await
            .0,
        StatusCode::OK
    );
    // Bob sees nothing of Alice's, under the same namespace and key.
    let (status, body) = call(
        &app,
        "POST",
        "/v1/ns/vault/get",
        Some(&bob),
        Some(json!({"keys": [b64(b"k")]})),
    )
    .await;
    assert_eq!((status, &body["values"]), (StatusCode::OK, &json!([null])));
    let (_, body) = call(&app, "GET", "/v1/ns/vault/scan", Some(&bob), None).await;
    assert_eq!(body["entries"], json!([]));
    let (_, body) = call(&app, "GET", "/v1/ns/vault/changes", Some(&bob), None).await;
    assert_eq!(body["changes"], json!([]));
    let (_, body) = call(
        &app,
        "POST",
        "/v1/ns/vault/get",
        Some(&alice),
        Some(json!({"keys": [b64(b"k")]})),
    )
    .await;
    assert_eq!(body["values"][0]["value"], json!(b64(b"alice's")));
    // No token, a forged one, a malformed header: refused before any data.
    for token in [None, Some(b64(&[0u8; 32])), Some("not base64!".to_owned())] {
        let (status, body) = call(&app, "GET", "/v1/ns/vault/scan", token.as_deref(), None).await;
        assert_eq!(
            (status, body["error"].as_str()),
            (StatusCode::UNAUTHORIZED, Some("UNAUTHORIZED"))
        );
    }
}

#[tokio::test]
async fn batches_with_preconditions_reads_scans_and_the_feed() {
    let app = server(Config::default()).await;
    let (_, t) = account(&app).await;
    let t = Some(t.as_str());
    let create = json!({"ops": [
        {"op": "require", "key": b64(b"a"), "expect": "absent"},
        {"op": "set", "key": b64(b"a"), "value": b64(b"1")},
        {"op": "set", "key": b64(b"b"), "value": b64(b"2")},
    ]});
    let (status, body) = call(&app, "POST", "/v1/ns/n/batch", t, Some(create.clone())).await;
    assert_eq!(
        (status, body["last_version"].as_u64()),
        (StatusCode::OK, Some(2))
    );
    // The same conditional batch again: a typed conflict naming the key and its version, and
    // nothing written.
    let (status, body) = call(&app, "POST", "/v1/ns/n/batch", t, Some(create)).await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert_eq!(
        (
            body["error"].as_str(),
            body["key"].as_str(),
            body["current"].as_u64()
        ),
        (Some("CONFLICT"), Some(b64(b"a").as_str()), Some(1))
    );
    let cas = json!({"ops": [
        {"op": "require", "key": b64(b"a"), "expect": {"version": 1}},
        {"op": "delete", "key": b64(b"a")},
        {"op": "create", "key": b64(b"c"), "value": b64(b"3")},
    ]});
    assert_eq!(
        call(&app, "POST", "/v1/ns/n/batch", t, Some(cas)).await.0,
        StatusCode::OK
    );
    let (_, body) = call(
        &app,
        "POST",
        "/v1/ns/n/get",
        t,
        Some(json!({"keys": [b64(b"a"), b64(b"b"), b64(b"c")]})),
    )
    .await;
    assert_eq!(
        body["values"],
        json!([null, {"value": b64(b"2"), "version": 2}, {"value": b64(b"3"), "version": 4}])
    );
    let (_, body) = call(
        &app,
        "GET",
        &format!("/v1/ns/n/scan?limit=1&after={}", b64(b"b")),
        t,
        None,
    )
    .await;
    assert_eq!(
        body["entries"],
        json!([{"key": b64(b"c"), "value": b64(b"3")}])
    );
    let (_, body) = call(&app, "GET", "/v1/ns/n/changes?since=1", t, None).await;
    assert_eq!(
        body["changes"],
        json!([
            {"key": b64(b"b"), "version": 2, "value": b64(b"2")},
            {"key": b64(b"a"), "version": 3, "value": null},
            {"key": b64(b"c"), "version": 4, "value": b64(b"3")},
        ])
    );
    assert_eq!(body["last_version"], json!(4));
}

#[tokio::test]
async fn a_waiting_feed_request_wakes_when_a_batch_lands() {
    let app = server(Config::default()).await;
    let (_, token) = account(&app).await;
    let poll = {
        let (app, token) = (app.clone(), token.clone());
        tokio::spawn(async move {
            let started = Instant::now();
            let (_, body) = call(
                &app,
                "GET",
                "/v1/ns/n/changes?since=0&wait=20",
                Some(&token),
                None,
            )
            .await;
            (started.elapsed(), body)
        })
    };
    tokio::time::sleep(Duration::from_millis(300)).await;
    let set = json!({"ops": [{"op": "set", "key": b64(b"k"), "value": b64(b"v")}]});
    assert_eq!(
        call(&app, "POST", "/v1/ns/n/batch", Some(&token), Some(set))
            .await
            .0,
        StatusCode::OK
    );
    let (elapsed, body) = poll.await.unwrap();
    assert_eq!(body["changes"][0]["key"], json!(b64(b"k")));
    assert!(
        elapsed < Duration::from_secs(15),
        "woke after {elapsed:?}, not at the batch"
    );
}

#[tokio::test]
async fn hostile_requests_are_refused_and_logged() {
    let logs = Logs::default();
    let _logging = tracing::subscriber::set_default(
        tracing_subscriber::fmt()
            .json()
            .with_writer(logs.clone())
            .finish(),
    );
    let app = server(Config {
        max_body_bytes: 4096,
        max_batch_ops: 10,
        ..Config::default()
    })
    .await;
    let (_, t) = account(&app).await;
    // A bad token, and none at all.
    let (status, _) = call(&app, "GET", "/v1/ns/n/scan", Some("forged"), None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let (status, _) = call(&app, "GET", "/v1/ns/n/scan", None, None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let token = t.clone();
    let t = Some(t.as_str());
    let big = json!({"ops": [{"op": "set", "key": b64(b"k"), "value": b64(&[0u8; 8192])}]});
    assert_eq!(
        call(&app, "POST", "/v1/ns/n/batch", t, Some(big)).await.0,
        StatusCode::PAYLOAD_TOO_LARGE
    );
    let many: Vec<Value> = (0..11u8)
        .map(|i| json!({"op": "delete", "key": b64(&[i])}))
        .collect();
    let (status, body) = call(
        &app,
        "POST",
        "/v1/ns/n/batch",
        t,
        Some(json!({"ops": many})),
    )
    .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (StatusCode::BAD_REQUEST, Some("INVALID_INPUT"))
    );
    let (status, body) = call(
        &app,
        "POST",
        "/v1/ns/n/batch",
        t,
        Some(json!({"ops": [{"op": "set", "key": "!!", "value": ""}]})),
    )
    .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (StatusCode::BAD_REQUEST, Some("INVALID_INPUT"))
    );
    let (status, _) = call(
        &app,
        "POST",
        "/v1/ns/n/batch",
        t,
        Some(json!({"ops": [{"op": "explode"}]})),
    )
    .await;
    assert!(status.is_client_error(), "{status}");
    let long_ns = "n".repeat(300);
    let (status, _) = call(&app, "GET", &format!("/v1/ns/{long_ns}/scan"), t, None).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let (status, body) = call(&app, "GET", "/v1/ns/n/changes?since=0", t, None).await;
    assert_eq!(
        (status, &body["changes"]),
        (StatusCode::OK, &json!([])),
        "nothing was written"
    );
    // Every refusal is in the log with its status, and no token is.
    let logged = logs.text();
    let refused: Vec<u64> = logged
        .lines()
        .filter_map(|line| serde_json::from_str::<Value>(line).ok())
        .filter(|line| line["fields"]["message"] == "request refused")
        .filter_map(|line| line["fields"]["status"].as_u64())
        .collect();
    for status in [401, 413, 400] {
        assert!(
            refused.contains(&status),
            "{status} not logged in {refused:?}"
        );
    }
    assert!(refused.len() >= 7, "{refused:?}");
    assert!(!logged.contains(&token[..16]), "a token reached the log");
    assert!(
        !logged.contains("forged"),
        "a presented token reached the log"
    );
}

/// The log lines written while a test runs (a `tracing` writer).
#[derive(Clone, Default)]
struct Logs(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);

impl Logs {
    fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap()).into_owned()
    }
}

impl std::io::Write for Logs {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for Logs {
    type Writer = Logs;
    fn make_writer(&'a self) -> Logs {
        self.clone()
    }
}

/// An account over its quota is refused with QUOTA_EXCEEDED (507) and nothing is written;
/// deleting frees room at once; other accounts are not affected.
#[tokio::test]
async fn account_quotas_are_enforced() {
    let app = server(Config {
        max_account_bytes: 1_000,
        max_account_keys: 5,
        ..Config::default()
    })
    .await;
    let (_, t) = account(&app).await;
    let (_, other) = account(&app).await;
    let t = Some(t.as_str());
    let set = |key: &str, len: usize| json!({"ops": [{"op": "set", "key": b64(key.as_bytes()), "value": b64(&vec![1u8; len])}]});
    assert_eq!(
        call(&app, "POST", "/v1/ns/n/batch", t, Some(set("a", 600)))
            .await
            .0,
        StatusCode::OK
    );
    let (status, body) = call(&app, "POST", "/v1/ns/other/batch", t, Some(set("b", 600))).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (StatusCode::INSUFFICIENT_STORAGE, Some("QUOTA_EXCEEDED")),
        "the quota spans the account's namespaces: {body}"
    );
    let (_, body) = call(
        &app,
        "GET",
        &format!("/v1/ns/other/scan?prefix={}", b64(b"")),
        t,
        None,
    )
    .await;
    assert_eq!(body["entries"], json!([]), "nothing written");
    // Another account has a quota of its own.
    assert_eq!(
        call(
            &app,
            "POST",
            "/v1/ns/n/batch",
            Some(&other),
            Some(set("b", 600))
        )
        .await
        .0,
        StatusCode::OK
    );
    // Deleting frees the room at once.
    let delete = json!({"ops": [{"op": "delete", "key": b64(b"a")}]});
    assert_eq!(
        call(&app, "POST", "/v1/ns/n/batch", t, Some(delete))
            .await
            .0,
        StatusCode::OK
    );
    assert_eq!(
        call(&app, "POST", "/v1/ns/other/batch", t, Some(set("b", 600)))
            .await
            .0,
        StatusCode::OK
    );
    // The key count too.
    let many: Vec<Value> = (0..5u8)
        .map(|i| json!({"op": "set", "key": b64(&[i]), "value": ""}))
        .collect();
    let (status, _) = call(
        &app,
        "POST",
        "/v1/ns/n/batch",
        t,
        Some(json!({"ops": many})),
    )
    .await;
    assert_eq!(status, StatusCode::INSUFFICIENT_STORAGE);
}

#[tokio::test]
async fn browsers_of_allowed_origins_may_call() {
    let app = server(Config {
        allowed_origins: vec!["https://app.example".into()],
        ..Config::default()
    })
    .await;
    let preflight = |origin: &'static str| {
        Request::builder()
            .method("OPTIONS")
            .uri("/v1/ns/n/scan")
            .header("origin", origin)
            .header("access-control-request-method", "GET")
            .header("access-control-request-headers", "authorization")
            .body(Body::empty())
            .unwrap()
    };
    let ok = app
        .clone()
        .oneshot(preflight("https://app.example"))
        .await
        .unwrap();
    assert_eq!(
        ok.headers().get("access-control-allow-origin").unwrap(),
        "https://app.example"
    );
    let other = app
        .oneshot(preflight("https://evil.example"))
        .await
        .unwrap();
    assert!(other.headers().get("access-control-allow-origin").is_none());
}

#[test]
fn the_binary_serves_and_stops_on_sigterm() {
    use std::io::{Read, Write};
    let (mut child, addr) = common::spawn_server(&url(), "warn");
    let mut stream = std::net::TcpStream::connect(&addr).unwrap();
    stream
        .write_all(b"GET /v1/health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    assert!(
        response.starts_with("HTTP/1.1 200") && response.ends_with("ok"),
        "{response}"
    );
    let status = std::process::Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let exit = child.wait().unwrap();
    assert!(exit.success(), "graceful shutdown exits 0: {exit:?}");
}

/// A session expires at its time even while the server remembers having checked it.
/// Expiry is kept in whole seconds (login's second plus the time to live), so a session of
/// 2 s lives between 1 and 2 s: a first call more than 1 s after the login proves nothing (a
/// loaded machine) and is tried again with a new session, up to three times.
#[tokio::test]
async fn an_expired_session_is_refused() {
    let ttl = Duration::from_secs(2);
    let app = server(Config {
        session_ttl: ttl,
        ..Config::default()
    })
    .await;
    let mut attempts = 0;
    let token = loop {
        attempts += 1;
        let started = Instant::now();
        let (_, token) = account(&app).await;
        let (status, _) = call(&app, "GET", "/v1/ns/n/scan", Some(&token), None).await;
        if started.elapsed() < ttl - Duration::from_secs(1) {
            assert_eq!(status, StatusCode::OK);
            break token;
        }
        assert!(
            attempts < 3,
            "no first call within 1 s of its login in three tries"
        );
    };
    // Past the expiry, whatever the second the login fell in.
    tokio::time::sleep(ttl + Duration::from_millis(100)).await;
    let (status, body) = call(&app, "GET", "/v1/ns/n/scan", Some(&token), None).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (StatusCode::UNAUTHORIZED, Some("UNAUTHORIZED"))
    );
}
