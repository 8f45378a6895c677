//! Load on loopback: N concurrent clients against the server (HTTP/1.1 keep-alive, one
//! connection each) and the same operations issued directly through `PostgresStore` (the same
//! SQL), so the ratio is the server's overhead; then the backend's conditional batch of 1,000
//! beside a raw `unnest` insert of 1,000 rows. Needs `KVSTORE_POSTGRES_URL` (`scripts/bench.sh
//! server` starts a private PostgreSQL). Bounded: a few thousand operations per row.

#[cfg(not(target_arch = "wasm32"))]
mod native {
    use std::time::{Duration, Instant};

    use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
    use base64::Engine;
    use kvstore::{Batch, KVStore, PostgresStore, Scan};
    use serde_json::{json, Value};
    use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
    use tokio::net::TcpStream;
    use vault_server::{app, AppState, Config, HashCost};

    const CLIENTS: usize = 16;
    const OPS_PER_CLIENT: usize = 150;

    /// A minimal HTTP/1.1 keep-alive client: enough for JSON requests to our own server.
    struct Client {
        stream: BufReader<TcpStream>,
        token: String,
    }

    impl Client {
        async fn call(&mut self, method: &str, path: &str, body: Option<&Value>) -> Value {
            let (status, value) = self.call_status(method, path, body).await;
            assert_eq!(status, 200, "{path}: {value}");
            value
        }

        async fn call_status(
            &mut self,
            method: &str,
            path: &str,
            body: Option<&Value>,
        ) -> (u16, Value) {
            let body = body.map(Value::to_string).unwrap_or_default();
            let request = format!(
                "{method} {path} HTTP/1.1\r\nHost: bench\r\nAuthorization: Bearer {}\r\n\
                 Content-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
                self.token,
                body.len()
            );
            self.stream
                .get_mut()
                .write_all(request.as_bytes())
                .await
                .unwrap();
            let mut status = String::new();
            self.stream.read_line(&mut status).await.unwrap();
            let status: u16 = status
                .split(' ')
                .nth(1)
                .and_then(|s| s.parse().ok())
                .expect("an HTTP status line");
            let mut length = 0usize;
            loop {
                let mut line = String::new();
                self.stream.read_line(&mut line).await.unwrap();
                if line == "\r\n" {
                    break;
                }
                if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
                    length = v.trim().parse().unwrap();
                }
            }
            let mut buf = vec![0u8; length];
            self.stream.read_exact(&mut buf).await.unwrap();
            (status, serde_json::from_slice(&buf).unwrap_or(Value::Null))
        }
    }

    fn percentile(sorted: &[Duration], p: f64) -> Duration {
        sorted[((sorted.len() - 1) as f64 * p).round() as usize]
    }

    struct Row {
        ops_per_s: f64,
        p50: Duration,
        p99: Duration,
    }

    /// Runs `op(client, i)` OPS_PER_CLIENT times on each client's task, all at once; gives the
    /// clients back.
    async fn measure<C, F, Fut>(clients: Vec<C>, op: F) -> (Row, Vec<C>)
    where
        C: Send + 'static,
        F: Fn(C, usize) -> Fut + Send + Sync + Clone + 'static,
        Fut: std::future::Future<Output = C> + Send,
    {
        let started = Instant::now();
        let mut tasks = Vec::new();
        for client in clients {
            let op = op.clone();
            tasks.push(tokio::spawn(async move {
                let mut client = client;
                let mut times = Vec::with_capacity(OPS_PER_CLIENT);
                for i in 0..OPS_PER_CLIENT {
                    let t = Instant::now();
                    client = op(client, i).await;
                    times.push(t.elapsed());
                }
                (client, times)
            }));
        }
        let mut all = Vec::new();
        let mut back = Vec::new();
        for task in tasks {
            let (client, times) = task.await.unwrap();
            back.push(client);
            all.extend(times);
        }
        let elapsed = started.elapsed();
        all.sort();
        let row = Row {
            ops_per_s: all.len() as f64 / elapsed.as_secs_f64(),
            p50: percentile(&all, 0.5),
            p99: percentile(&all, 0.99),
        };
        (row, back)
    }

    fn ms(d: Duration) -> String {
        format!("{:.2} ms", d.as_secs_f64() * 1e3)
    }

    fn batch_ops(client: usize, i: usize) -> Vec<(Vec<u8>, Vec<u8>)> {
        (0..10)
            .map(|j| {
                (
                    format!("c{client}/k{i:04}/{j}").into_bytes(),
                    vec![0xA5u8; 100],
                )
            })
            .collect()
    }

    pub async fn main() {
        let url = std::env::var("KVSTORE_POSTGRES_URL")
            .expect("KVSTORE_POSTGRES_URL (scripts/bench.sh server starts a private PostgreSQL)");
        let store = PostgresStore::builder()
            .max_connections(CLIENTS as u32 + 4)
            .connect(&url)
            .await
            .unwrap();
        let config = Config {
            hash_cost: HashCost::INSECURE_FOR_TESTS,
            ..Config::default()
        };
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let state = AppState::new(store.clone(), config).unwrap();
        tokio::spawn(async move { axum::serve(listener, app(state)).await.unwrap() });

        // One account per client, each with its own keep-alive connection.
        let run = format!("{:08x}", fastrand::u32(..));
        let mut http = Vec::new();
        let mut direct = Vec::new();
        for c in 0..CLIENTS {
            let account = format!("bench-{run}-{c}");
            let key = B64.encode([c as u8; 32]);
            let mut client = Client {
                stream: BufReader::new(TcpStream::connect(addr).await.unwrap()),
                token: String::new(),
            };
            let creds = json!({"account": account, "auth_key": key});
            let (status, _) = client
                .call_status("POST", "/v1/accounts", Some(&creds))
                .await;
            assert_eq!(status, 201);
            client.token = client.call("POST", "/v1/sessions", Some(&creds)).await["token"]
                .as_str()
                .unwrap()
                .to_owned();
            http.push((c, client));
            direct.push((
                c,
                store
                    .for_tenant(format!("direct-{run}-{c}"))
                    .namespace("n")
                    .unwrap(),
            ));
        }

        println!("\nvault-server under load: {CLIENTS} concurrent clients, {OPS_PER_CLIENT} operations each, loopback");
        println!(
            "{:34} {:>10} {:>10} {:>10}   {:>10} {:>10} {:>10}  {:>6}",
            "operation", "server/s", "p50", "p99", "direct/s", "p50", "p99", "ratio"
        );
        let print = |label: &str, server: Row, direct: Row| {
            println!(
                "{label:34} {:>10.0} {:>10} {:>10}   {:>10.0} {:>10} {:>10}  {:>6.2}",
                server.ops_per_s,
                ms(server.p50),
                ms(server.p99),
                direct.ops_per_s,
                ms(direct.p50),
                ms(direct.p99),
                direct.ops_per_s / server.ops_per_s
            );
        };

        // Batches of 10 sets of 100 B (each client writes OPS_PER_CLIENT x 10 keys).
        let (server, http) = measure(http, |(c, mut client): (usize, Client), i| async move {
            let ops: Vec<Value> = batch_ops(c, i)
                .into_iter()
                .map(|(k, v)| json!({"op": "set", "key": B64.encode(k), "value": B64.encode(v)}))
                .collect();
            client
                .call("POST", "/v1/ns/n/batch", Some(&json!({"ops": ops})))
                .await;
            (c, client)
        })
        .await;
        let (raw, direct) = measure(direct, |(c, s): (usize, PostgresStore), i| async move {
            let mut batch = Batch::new();
            for (k, v) in batch_ops(c, i) {
                batch.set(k, v);
            }
            s.batch(batch).await.unwrap();
            s.last_version().await.unwrap();
            (c, s)
        })
        .await;
        print("batch of 10 sets of 100 B", server, raw);

        // Scans of 100 entries at a moving cursor.
        let (server, http) = measure(http, |(c, mut client): (usize, Client), i| async move {
            let after = B64.encode(format!("c{c}/k{:04}", i % 100));
            let path = format!("/v1/ns/n/scan?limit=100&after={after}");
            let body = client.call("GET", &path, None).await;
            assert_eq!(body["entries"].as_array().map(Vec::len), Some(100));
            (c, client)
        })
        .await;
        let (raw, direct) = measure(direct, |(c, s): (usize, PostgresStore), i| async move {
            let after = format!("c{c}/k{:04}", i % 100).into_bytes();
            let found = s.scan(Scan::all().after(&after).limit(100)).await.unwrap();
            assert_eq!(found.len(), 100);
            (c, s)
        })
        .await;
        print("scan of 100 entries", server, raw);

        // Feed pages of 100 changes from a moving version.
        let (server, _) = measure(http, |(c, mut client): (usize, Client), i| async move {
            let path = format!("/v1/ns/n/changes?since={}&limit=100", i * 7);
            let body = client.call("GET", &path, None).await;
            assert_eq!(body["changes"].as_array().map(Vec::len), Some(100));
            (c, client)
        })
        .await;
        let (raw, _) = measure(direct, |(c, s): (usize, PostgresStore), i| async move {
            let found = s.changes((i * 7) as u64, 100).await.unwrap();
            assert_eq!(found.len(), 100);
            s.last_version().await.unwrap();
            (c, s)
        })
        .await;
        print("change feed page of 100", server, raw);

        // The backend's conditional batch of 1,000 beside one raw unnest insert of 1,000 rows.
        let ns = store
            .for_tenant(format!("cond-{run}"))
            .namespace("n")
            .unwrap();
        let (mut cond, mut unnest) = (Vec::new(), Vec::new());
        for round in 0..20 {
            let mut batch = Batch::new();
            for i in 0..1000 {
                let key = format!("r{round}/{i:04}").into_bytes();
                batch
                    .require_absent(key.clone())
                    .set(key, vec![0xA5u8; 100]);
            }
            let t = Instant::now();
            ns.batch(batch).await.unwrap();
            cond.push(t.elapsed());
            let keys: Vec<Vec<u8>> = (0..1000)
                .map(|i| format!("u{round}/{i:04}").into_bytes())
                .collect();
            let versions: Vec<i64> = (0..1000).collect();
            let values: Vec<Vec<u8>> = vec![vec![0xA5u8; 100]; 1000];
            let t = Instant::now();
            sqlx::query(
                "INSERT INTO kvstore_entries (tenant, ns, key, version, value) \
                 SELECT $1, 'raw', k, v, d FROM unnest($2::bytea[], $3::int8[], $4::bytea[]) AS t(k, v, d)",
            )
            .bind(format!("raw-{run}-{round}"))
            .bind(&keys)
            .bind(&versions)
            .bind(&values)
            .execute(store.pool())
            .await
            .unwrap();
            unnest.push(t.elapsed());
        }
        cond.sort();
        unnest.sort();
        let (c, u) = (cond[cond.len() / 2], unnest[unnest.len() / 2]);
        println!(
            "\nconditional batch of 1,000 (require_absent + set each) {}   raw unnest insert of 1,000 rows {}   ratio {:.2}",
            ms(c), ms(u), c.as_secs_f64() / u.as_secs_f64()
        );
    }
}

#[cfg(not(target_arch = "wasm32"))]
fn main() {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(native::main());
}

#[cfg(target_arch = "wasm32")]
fn main() {}
