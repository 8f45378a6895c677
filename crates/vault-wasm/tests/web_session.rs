//! The bindings' session guarantees in a browser page, called the way JavaScript calls them
//! (each call returns a `Promise`; follow-up calls are made from `then` callbacks): `lock()` is
//! a barrier, and the idle timer wipes the keys with no call. Runs in Chromium and Firefox
//! (`scripts/test.sh`); the npm package's e2e tests check the same through the JS API and the
//! worker client in Chromium.
#![cfg(all(target_arch = "wasm32", target_os = "unknown"))]

use std::cell::{Cell, RefCell};
use std::rc::Rc;

use js_sys::{Function, Promise, Uint8Array};
use vault_wasm::{Session, Vault};
use wasm_bindgen::convert::TryFromJsValue;
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::JsFuture;
use wasm_bindgen_test::wasm_bindgen_test;

wasm_bindgen_test::wasm_bindgen_test_configure!(run_in_browser);

async fn open_session(idle_timeout_ms: Option<f64>) -> (Vault, Session) {
    let name = format!("session-{}", js_sys::Math::random());
    let vault = JsFuture::from(Vault::open(name, "relaxed".into()))
        .await
        .unwrap();
    let vault = Vault::try_from_js_value(vault).unwrap();
    JsFuture::from(vault.create_keyspace("k".into(), "pw".into()))
        .await
        .unwrap();
    let options = js_sys::Object::new();
    if let Some(ms) = idle_timeout_ms {
        js_sys::Reflect::set(&options, &"idleTimeoutMs".into(), &ms.into()).unwrap();
    }
    let session = JsFuture::from(vault.unlock("k".into(), "pw".into(), options.into()))
        .await
        .unwrap();
    (vault, Session::try_from_js_value(session).unwrap())
}

/// A one-shot callback for `then`, left to JavaScript (leaked: tests only).
fn callback(f: impl FnOnce(JsValue) + 'static) -> &'static Closure<dyn FnMut(JsValue)> {
    let mut f = Some(f);
    Box::leak(Box::new(Closure::new(move |value: JsValue| {
        if let Some(f) = f.take() {
            f(value)
        }
    })))
}

async fn sleep(ms: i32) {
    let promise = Promise::new(&mut |resolve, _| {
        let global = js_sys::global();
        let set_timeout: Function = js_sys::Reflect::get(&global, &"setTimeout".into())
            .unwrap()
            .into();
        set_timeout.call2(&global, &resolve, &ms.into()).unwrap();
    });
    JsFuture::from(promise).await.unwrap();
}

/// Calls made after `lock()` (in the same tick, or from the callbacks of calls in flight, a
/// few levels deep) never see the keys.
#[wasm_bindgen_test]
async fn lock_is_a_barrier_for_calls_made_from_callbacks_of_calls_in_flight() {
    let (_vault, session) = open_session(None).await;
    let session = Rc::new(session);
    JsFuture::from(session.set_secret("x".into(), vec![1]))
        .await
        .unwrap();
    let lock_issued = Rc::new(Cell::new(false));
    let violations = Rc::new(RefCell::new(Vec::<String>::new()));
    let after_lock = Rc::new(Cell::new(0u32));
    let pending = Rc::new(RefCell::new(Vec::<Promise>::new()));

    fn issue(
        session: &Rc<Session>,
        depth: u32,
        lock_issued: &Rc<Cell<bool>>,
        violations: &Rc<RefCell<Vec<String>>>,
        after_lock: &Rc<Cell<u32>>,
        pending: &Rc<RefCell<Vec<Promise>>>,
    ) {
        let issued_after_lock = lock_issued.get();
        if issued_after_lock {
            after_lock.set(after_lock.get() + 1);
        }
        let call = session.get_secret("x".into());
        let (v1, v2) = (violations.clone(), violations.clone());
        let checked = call.then2(
            callback(move |_| {
                if issued_after_lock {
                    v1.borrow_mut()
                        .push("a call made after lock() used the keys".into());
                }
            }),
            callback(move |error| {
                let code = js_sys::Reflect::get(&error, &"code".into()).unwrap_or_default();
                if issued_after_lock && code.as_string().as_deref() != Some("LOCKED") {
                    v2.borrow_mut().push(format!("unexpected {code:?}"));
                }
            }),
        );
        pending.borrow_mut().push(checked);
        if depth > 0 {
            let (session, lock_issued, violations, after_lock, pending2) = (
                session.clone(),
                lock_issued.clone(),
                violations.clone(),
                after_lock.clone(),
                pending.clone(),
            );
            let follow = call.then2(
                callback(move |_| {
                    for _ in 0..2 {
                        issue(
                            &session,
                            depth - 1,
                            &lock_issued,
                            &violations,
                            &after_lock,
                            &pending2,
                        );
                    }
                }),
                callback(|_| {}),
            );
            pending.borrow_mut().push(follow);
        }
    }

    for round in 0..12u32 {
        lock_issued.set(false);
        for _ in 0..1 + round % 4 {
            issue(
                &session,
                round % 3,
                &lock_issued,
                &violations,
                &after_lock,
                &pending,
            );
        }
        let lock = session.lock();
        lock_issued.set(true);
        if round % 2 == 1 {
            issue(
                &session,
                0,
                &lock_issued,
                &violations,
                &after_lock,
                &pending,
            );
        }
        JsFuture::from(lock).await.unwrap();
        loop {
            let batch: Vec<Promise> = pending.borrow_mut().drain(..).collect();
            if batch.is_empty() {
                break;
            }
            for promise in batch {
                let _ = JsFuture::from(promise).await;
            }
            sleep(0).await;
        }
        JsFuture::from(session.unlock("pw".into())).await.unwrap();
    }
    assert_eq!(*violations.borrow(), Vec::<String>::new());
    assert!(
        after_lock.get() > 12,
        "only {} calls made after lock()",
        after_lock.get()
    );
}

/// The idle timeout wipes the keys at the deadline without any call, and says so.
#[wasm_bindgen_test]
async fn the_idle_timer_wipes_the_keys_without_a_call() {
    let (_vault, session) = open_session(Some(300.0)).await;
    let events = Rc::new(RefCell::new(Vec::<String>::new()));
    let seen = events.clone();
    let listener = Closure::<dyn FnMut(JsValue)>::new(move |reason: JsValue| {
        seen.borrow_mut()
            .push(reason.as_string().unwrap_or_default());
    });
    session.set_onlock(Some(listener.as_ref().unchecked_ref::<Function>().clone()));
    sleep(900).await;
    assert_eq!(
        *events.borrow(),
        vec!["idle".to_owned()],
        "no call was made"
    );
    let locked = JsFuture::from(session.is_locked()).await.unwrap();
    assert_eq!(locked.as_bool(), Some(true));
    let err = JsFuture::from(session.get_secret("x".into()))
        .await
        .unwrap_err();
    let code = js_sys::Reflect::get(&err, &"code".into()).unwrap();
    assert_eq!(code.as_string().as_deref(), Some("LOCKED"));
    // A password as bytes opens it again.
    let password: JsValue = Uint8Array::from(&b"pw"[..]).into();
    JsFuture::from(session.unlock(password)).await.unwrap();
    JsFuture::from(session.lock()).await.unwrap();
    assert_eq!(*events.borrow(), vec!["idle".to_owned(), "lock".to_owned()]);
    drop(listener);
}
