//! `host-gateway serve`: the GB/T 32960 platform gateway.
//!
//! * [`gateway`]: listeners (one per configured gateway), one task per connection driving the
//!   core's `PlatformSession`, and the registry of online VINs.
//! * [`auth`]: one-way (imported devices) and third-party (HTTP function) login decisions.
//! * [`store`]: the storage trait, the embedded SQLite store (WAL) and the batching writer.
//! * [`sinks`]: NDJSON file and HTTP webhook.
//! * [`api`]: the admin HTTP API (axum), with the OpenAPI document and `/metrics`.
//! * [`tls`]: TLS listeners (rustls): certificates, mutual TLS with the VIN bound to the device
//!   certificate, OCSP stapling and device checks, CRLs, hot reload on edit and SIGHUP.

pub mod api;
pub mod auth;
pub mod config;
pub mod gateway;
pub mod metrics;
pub mod model;
pub mod sinks;
pub mod store;
pub mod tls;

use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result};

use config::{Config, DEFAULT_GATEWAY_NAME};
use gateway::{Ctx, Manager};
use metrics::Metrics;
use model::GatewaySpec;
use store::sqlite::SqliteStore;
use store::writer::StoreWriter;
use store::Store;

/// Flags of `host-gateway serve` (a contract: extend, never rename).
#[derive(Debug, Clone, clap::Args)]
pub struct ServeArgs {
    /// A TOML configuration file (gateways, store, sinks); flags override it.
    #[arg(long)]
    pub config: Option<std::path::PathBuf>,
    /// Where the embedded store (SQLite) lives.
    #[arg(long)]
    pub data_dir: Option<std::path::PathBuf>,
    /// Address of the default gateway's listener.
    #[arg(long)]
    pub listen: Option<std::net::SocketAddr>,
    /// Address of the admin API.
    #[arg(long)]
    pub api_listen: Option<std::net::SocketAddr>,
    /// Bearer token of the admin API (otherwise generated and printed once at first start).
    #[arg(long)]
    pub api_token: Option<String>,
    /// Seconds without a frame after which a connection is closed.
    #[arg(long)]
    pub idle_timeout: Option<u64>,
    /// Days frames are kept (0: forever); overrides `retention_days` of the file.
    #[arg(long)]
    pub retention_days: Option<u32>,
}

/// Deletes frames received before `before` (Unix ms); returns how many.
pub async fn purge(ctx: &Ctx, before: i64) -> Result<usize> {
    let store = ctx.store.clone();
    let n = tokio::task::spawn_blocking(move || store.purge_frames_before(before)).await??;
    ctx.metrics.purged(n as u64);
    if n > 0 {
        tracing::info!(frames = n, before, "retention: old frames deleted");
    }
    Ok(n)
}

/// Runs the gateway until SIGTERM or Ctrl-C.
pub fn run(args: ServeArgs) -> Result<()> {
    let _ = tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .try_init();
    let config = Config::load(&args)?;
    // One descriptor per connected vehicle: as many as the hard limit allows.
    crate::limits::raise_nofile_to_hard();
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the tokio runtime")?
        .block_on(serve(config))
}

/// Brings the store's gateways in line with the file and the flags; returns them all.
fn sync_gateways(store: &dyn Store, config: &Config) -> Result<Vec<model::Gateway>> {
    let existing = store.gateways()?;
    for spec in &config.gateways {
        match existing.iter().find(|g| g.spec.name == spec.name) {
            Some(g) if g.spec != *spec => store.gateway_update(g.id, spec, g.enabled)?,
            Some(_) => {}
            None => {
                store.gateway_insert(spec)?;
            }
        }
    }
    if store.gateways()?.is_empty() {
        store.gateway_insert(&GatewaySpec::named(DEFAULT_GATEWAY_NAME))?;
    }
    if let Some(listen) = config.listen_override {
        let first = store.gateways()?.into_iter().next().context("no gateway")?;
        let mut spec = first.spec.clone();
        spec.host = listen.ip().to_string();
        spec.port = listen.port();
        spec.validate().context("--listen")?;
        if spec != first.spec {
            store.gateway_update(first.id, &spec, first.enabled)?;
        }
    }
    store.gateways()
}

async fn shutdown_signal() {
    #[cfg(unix)]
    {
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
            .expect("installing the SIGTERM handler");
        tokio::select! {
            _ = term.recv() => {}
            _ = tokio::signal::ctrl_c() => {}
        }
    }
    #[cfg(not(unix))]
    let _ = tokio::signal::ctrl_c().await;
}

async fn serve(config: Config) -> Result<()> {
    let store: Arc<dyn Store> = Arc::new(SqliteStore::open(&config.data_dir)?);
    let now = chrono::Utc::now().timestamp_millis();
    store.close_dangling_sessions(now)?;
    let metrics = Arc::new(Metrics::new());
    let (writer, _writer_thread) = StoreWriter::start(store.clone(), metrics.clone());
    let (token, fresh) = api::token::TokenCheck::load(config.api_token.as_deref(), &*store)?;
    if let Some(t) = fresh {
        println!("API token (shown once; stored hashed in the data directory): {t}");
    }
    let http = reqwest::Client::new();
    let (sinks, _sink_tasks) = sinks::Sinks::start(&config.sinks, http.clone())?;
    let gateways = sync_gateways(&*store, &config)?;
    let mut ctx = Ctx::new(
        store.clone(),
        writer.clone(),
        metrics,
        sinks,
        http,
        config.idle_timeout_secs * 1000,
        config.downlink_timeout_secs * 1000,
        (now as u64) * 1000,
    );
    ctx.retention_ms = config.retention_ms();
    let ctx = Arc::new(ctx);
    let manager = Arc::new(Manager::new(ctx));
    for g in gateways {
        let (id, name, url) = (g.id, g.spec.name.clone(), format!("{}:{}", g.spec.host, g.spec.port));
        let status = manager.apply(g).await;
        println!("gateway {id} {name} on {url}: {status:?}");
    }

    let api_listener = tokio::net::TcpListener::bind(config.api_listen)
        .await
        .with_context(|| format!("api_listen: cannot listen on {}", config.api_listen))?;
    println!("admin API on http://{}", config.api_listen);
    use std::io::Write as _;
    let _ = std::io::stdout().flush();
    let app = api::router(api::AppState {
        manager: manager.clone(),
        token: Arc::new(token),
    });
    let (stop_api, stop_api_rx) = tokio::sync::oneshot::channel::<()>();
    let api_task = tokio::spawn(async move {
        let r = axum::serve(api_listener, app)
            .with_graceful_shutdown(async {
                let _ = stop_api_rx.await;
            })
            .await;
        if let Err(e) = r {
            tracing::error!(error = %e, "admin API failed");
        }
    });

    if let Some(keep_ms) = config.retention_ms() {
        let ctx = manager.ctx().clone();
        let every = Duration::from_secs(config.retention_interval_secs);
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(every);
            loop {
                tick.tick().await;
                let before = chrono::Utc::now().timestamp_millis() - keep_ms;
                if let Err(e) = purge(&ctx, before).await {
                    tracing::error!(error = %format!("{e:#}"), "retention failed");
                }
            }
        });
    }

    #[cfg(unix)]
    {
        // SIGHUP: re-read the certificate, key, CA and CRL files of the TLS gateways.
        let mut hup = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup())
            .context("installing the SIGHUP handler")?;
        let manager = manager.clone();
        tokio::spawn(async move {
            while hup.recv().await.is_some() {
                tracing::info!("SIGHUP: reloading the TLS files");
                let (ok, failed) = manager.reload_tls().await;
                tracing::info!(reloaded = ok, failed, "SIGHUP: TLS reload done");
            }
        });
    }

    shutdown_signal().await;
    tracing::info!("shutting down: closing connections and draining the store");
    manager.shutdown(Duration::from_secs(10)).await;
    if let Err(e) = writer.flush().await {
        tracing::error!(error = %e, "store drain failed");
    }
    let _ = stop_api.send(());
    let _ = tokio::time::timeout(Duration::from_secs(5), api_task).await;
    tracing::info!("stopped");
    Ok(())
}
