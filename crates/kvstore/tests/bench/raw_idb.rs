//! The reference side of the browser benchmarks: direct `idb` calls on one object store, binary
//! keys, `Uint8Array` values, strict durability (what idb-keyval's `set`/`setMany`/`get` do,
//! with the durability made explicit). Included by `browser_bench.rs` (page) and
//! `browser_bench_opfs.rs` (dedicated worker).

use std::cell::RefCell;
use std::rc::Rc;

use futures_channel::oneshot;
use idb::{Factory, KeyRange, ObjectStoreParams, Query, Request, TransactionMode};
use js_sys::{Function, Object, Reflect, Uint8Array};
use wasm_bindgen::{JsCast, JsValue};

/// The raw side: one object store, binary keys, `Uint8Array` values, strict durability.
pub struct Raw {
    pub db: web_sys::IdbDatabase,
}

fn once() -> (impl Fn() + Clone + 'static, oneshot::Receiver<()>) {
    let (send, recv) = oneshot::channel();
    let send = Rc::new(RefCell::new(Some(send)));
    (
        move || {
            if let Some(s) = send.borrow_mut().take() {
                let _ = s.send(());
            }
        },
        recv,
    )
}

impl Raw {
    pub async fn open(name: &str) -> Raw {
        let mut request = Factory::new().unwrap().open(name, Some(1)).unwrap();
        request.on_upgrade_needed(|event| {
            use idb::DatabaseEvent;
            event
                .database()
                .unwrap()
                .create_object_store("kv", ObjectStoreParams::new())
                .unwrap();
        });
        let (fire, done) = once();
        request.on_success(move |_| fire());
        done.await.unwrap();
        Raw {
            db: request.database().unwrap().into(),
        }
    }

    fn write_tx(&self) -> idb::Transaction {
        let options = Object::new();
        Reflect::set(&options, &"durability".into(), &"strict".into()).unwrap();
        let f: Function = Reflect::get(&self.db, &"transaction".into())
            .unwrap()
            .unchecked_into();
        let raw: web_sys::IdbTransaction = f
            .call3(&self.db, &"kv".into(), &"readwrite".into(), &options)
            .unwrap()
            .unchecked_into();
        raw.into()
    }

    pub async fn commit(mut tx: idb::Transaction) {
        let (fire, done) = once();
        tx.on_complete(move |_| fire());
        done.await.unwrap();
    }

    pub async fn put_all(&self, items: &[(Vec<u8>, Vec<u8>)]) {
        let tx = self.write_tx();
        let store = tx.object_store("kv").unwrap();
        for (k, v) in items {
            store
                .put(
                    &Uint8Array::from(v.as_slice()).into(),
                    Some(&Uint8Array::from(k.as_slice()).into()),
                )
                .unwrap();
        }
        Self::commit(tx).await;
    }

    pub async fn get(&self, k: &[u8]) -> Option<Vec<u8>> {
        let tx = idb::Database::from(self.db.clone())
            .transaction(&["kv"], TransactionMode::ReadOnly)
            .unwrap();
        let mut request = tx
            .object_store("kv")
            .unwrap()
            .get(Query::from(JsValue::from(Uint8Array::from(k))))
            .unwrap();
        let (fire, done) = once();
        request.on_success(move |_| fire());
        done.await.unwrap();
        let v = request.result().unwrap();
        (!v.is_undefined()).then(|| v.unchecked_into::<Uint8Array>().to_vec())
    }

    pub async fn scan(&self, lower: &[u8], upper: &[u8]) -> Vec<(Vec<u8>, Vec<u8>)> {
        let tx = idb::Database::from(self.db.clone())
            .transaction(&["kv"], TransactionMode::ReadOnly)
            .unwrap();
        let store = tx.object_store("kv").unwrap();
        let range = KeyRange::bound(
            &Uint8Array::from(lower).into(),
            &Uint8Array::from(upper).into(),
            Some(false),
            Some(true),
        )
        .unwrap();
        let keys = store
            .get_all_keys(Some(range.clone().into()), None)
            .unwrap();
        let mut values = store.get_all(Some(range.into()), None).unwrap();
        let (fire, done) = once();
        values.on_success(move |_| fire());
        done.await.unwrap();
        let keys: js_sys::Array = keys.result().unwrap().unchecked_into();
        let values: js_sys::Array = values.result().unwrap().unchecked_into();
        keys.iter()
            .zip(values.iter())
            .map(|(k, v)| {
                (
                    Uint8Array::new(&k).to_vec(),
                    v.unchecked_into::<Uint8Array>().to_vec(),
                )
            })
            .collect()
    }
}

/// The median of `times`.
pub fn median(times: &[f64]) -> f64 {
    let mut sorted = times.to_vec();
    sorted.sort_by(f64::total_cmp);
    sorted[sorted.len() / 2]
}
