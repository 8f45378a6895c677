//! `vault-server --database-url postgres://… [--listen 127.0.0.1:8080]`: see README.md.
#![forbid(unsafe_code)]

#[cfg(not(target_arch = "wasm32"))]
mod native {
    use std::net::SocketAddr;
    use std::time::Duration;

    use anyhow::Context;
    use clap::Parser;
    use kvstore::PostgresStore;
    use vault_server::{app, AppState, Config};

    /// A sync server for vault stores on PostgreSQL (API version 1; see the README).
    #[derive(Parser, Debug)]
    #[command(version)]
    struct Args {
        /// The PostgreSQL database, e.g. postgres://user@127.0.0.1:5432/vault.
        #[arg(long, env = "DATABASE_URL")]
        database_url: String,
        /// Where to listen (port 0: any free port; the address is printed).
        #[arg(long, default_value = "127.0.0.1:8080")]
        listen: SocketAddr,
        /// Largest request body, in bytes.
        #[arg(long, default_value_t = 8 << 20)]
        max_body_bytes: usize,
        /// An origin browsers may call from (CORS), e.g. https://app.example; repeatable.
        #[arg(long = "allow-origin")]
        allow_origins: Vec<String>,
        /// Session lifetime in seconds.
        #[arg(long, default_value_t = 24 * 3600)]
        session_ttl: u64,
        /// The most bytes (keys and values) one account may hold.
        #[arg(long, default_value_t = 1 << 30)]
        max_account_bytes: u64,
        /// The most keys one account may hold.
        #[arg(long, default_value_t = 1_000_000)]
        max_account_keys: u64,
        /// Database connections in the pool.
        #[arg(long, default_value_t = 16)]
        max_connections: u32,
    }

    pub fn main() -> anyhow::Result<()> {
        let args = Args::parse();
        tracing_subscriber::fmt()
            .json()
            .with_writer(std::io::stderr)
            .with_env_filter(
                tracing_subscriber::EnvFilter::try_from_default_env()
                    .unwrap_or_else(|_| "info,tower_http=info".into()),
            )
            .init();
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()?;
        runtime.block_on(serve(args))
    }

    async fn serve(args: Args) -> anyhow::Result<()> {
        let store = PostgresStore::builder()
            .max_connections(args.max_connections)
            .connect(&args.database_url)
            .await
            .context("connecting to the database")?;
        let config = Config {
            max_body_bytes: args.max_body_bytes,
            allowed_origins: args.allow_origins,
            session_ttl: Duration::from_secs(args.session_ttl),
            max_account_bytes: args.max_account_bytes,
            max_account_keys: args.max_account_keys,
            ..Config::default()
        };
        let state = AppState::new(store, config)?;
        let listener = tokio::net::TcpListener::bind(args.listen)
            .await
            .with_context(|| format!("binding {}", args.listen))?;
        let addr = listener.local_addr()?;
        // The one line on standard output: scripts and tests read the address from it.
        println!("listening on {addr}");
        tracing::info!(%addr, "listening");
        axum::serve(listener, app(state))
            .with_graceful_shutdown(shutdown())
            .await?;
        tracing::info!("stopped");
        Ok(())
    }

    /// Ctrl-C or SIGTERM: stop accepting, let requests in flight finish.
    async fn shutdown() {
        let ctrl_c = async {
            let _ = tokio::signal::ctrl_c().await;
        };
        #[cfg(unix)]
        let term = async {
            if let Ok(mut s) =
                tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
            {
                s.recv().await;
            }
        };
        #[cfg(not(unix))]
        let term = std::future::pending::<()>();
        tokio::select! { _ = ctrl_c => {}, _ = term => {} }
        tracing::info!("shutting down");
    }
}

#[cfg(not(target_arch = "wasm32"))]
fn main() -> anyhow::Result<()> {
    native::main()
}

#[cfg(target_arch = "wasm32")]
fn main() {}
