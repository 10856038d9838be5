//! `host-gateway sim`: a fleet of simulated T-Boxes against a gateway.
//!
//! Each vehicle is a tokio task ([`tbox`]) that drives the core's sans-IO T-Box machine over
//! TCP, so logins and their retries, reporting, heartbeats, reissue after an outage and the
//! answers to downlink 0x80/0x81/0x82 follow the same code as the firmware. The values come
//! from a deterministic vehicle model ([`vehicle`], encoded by [`report`]; 2025 reports are
//! signed with an SM2 key derived from `--seed` and the VIN). [`register`] imports the fleet
//! through the admin API first; [`stats`] counts and measures.
//!
//! Output: a progress bar on stderr (only on a terminal), the final statistics on stdout (text,
//! or one JSON object with `--json`). The exit status is non-zero when no vehicle could log in.

pub mod link;
pub mod register;
pub mod report;
pub mod stats;
pub mod tbox;
pub mod vehicle;

use std::io::IsTerminal;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use anyhow::{bail, Context, Result};
use gb32960_core::Edition;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use tokio::sync::watch;
use tokio::task::JoinSet;
use tokio::time::Instant;

use self::register::Device;
use self::stats::{Stats, Summary};
use self::tbox::{FleetConfig, VehicleSpec};

/// Flags of `host-gateway sim` (a contract: extend, never rename).
#[derive(Debug, Clone, clap::Args)]
pub struct SimArgs {
    /// The gateway's address.
    #[arg(long)]
    pub gateway: String,
    /// How many vehicles.
    #[arg(long, default_value_t = 1)]
    pub vehicles: u32,
    /// Report period, seconds.
    #[arg(long, default_value_t = 10)]
    pub period: u64,
    /// How long to run, seconds.
    #[arg(long, default_value_t = 60)]
    pub duration: u64,
    /// The edition spoken.
    #[arg(long, default_value = "2016", value_parser = ["2016", "2025"])]
    pub edition: String,
    /// Register the fleet's VINs first through this admin API (base URL, e.g. http://127.0.0.1:8998).
    #[arg(long)]
    pub register: Option<String>,
    /// Bearer token for --register.
    #[arg(long)]
    pub api_token: Option<String>,
    /// Seed of the fleet: the same seed gives the same vehicles, values and 2025 keys.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Spread the first connections over this many seconds (vehicle i starts at i/N of it).
    #[arg(long, default_value_t = 0.0, value_name = "SECS")]
    pub ramp: f64,
    /// Local addresses to connect from, round-robin: a comma-separated list of IPs or IPv4
    /// ranges such as `127.0.0.2-127.0.0.40` (each address gives about 28 000 connections).
    #[arg(long, value_delimiter = ',', value_name = "IP[-IP],...")]
    pub source_ip: Vec<String>,
    /// Heartbeat period, seconds (parameter 0x09, 1-240).
    #[arg(long, default_value_t = 30, value_name = "SECS")]
    pub heartbeat: u8,
    /// VINs are this prefix followed by the vehicle number, zero-padded to 17 characters.
    #[arg(long, default_value = "LGBSIM")]
    pub vin_prefix: String,
    /// Reports each vehicle keeps while offline, reissued after the next login.
    #[arg(long, default_value_t = 1000, value_name = "N")]
    pub offline_store: usize,
    /// 2025: do not send the signed activation (0x09) after the first login.
    #[arg(long)]
    pub no_activation: bool,
    /// Print the final statistics as one JSON object.
    #[arg(long)]
    pub json: bool,
    /// Speak TLS, trusting the CA certificate(s) in this PEM file (a gateway with transport "tls").
    #[arg(long, value_name = "PEM")]
    pub tls_ca: Option<std::path::PathBuf>,
    /// The name the gateway's certificate must carry (DNS name or IP address).
    #[arg(long, default_value = "localhost", value_name = "NAME", requires = "tls_ca")]
    pub tls_server_name: String,
    /// A client certificate (PEM chain) every vehicle presents, with --tls-key.
    #[arg(long, value_name = "PEM", requires_all = ["tls_ca", "tls_key"])]
    pub tls_cert: Option<std::path::PathBuf>,
    /// The private key (PEM) of --tls-cert.
    #[arg(long, value_name = "PEM", requires = "tls_cert")]
    pub tls_key: Option<std::path::PathBuf>,
}

/// Runs the fleet for the duration and prints the final statistics.
pub fn run(args: SimArgs) -> Result<()> {
    if std::env::var_os("RUST_LOG").is_some() {
        let _ = tracing_subscriber::fmt()
            .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
            .with_writer(std::io::stderr)
            .try_init();
    }
    let plan = Plan::new(&args)?;
    crate::limits::raise_nofile_limit(args.vehicles);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the tokio runtime")?;
    let summary = runtime.block_on(run_fleet(&args, plan))?;
    if args.json {
        println!("{}", serde_json::to_string(&summary)?);
    } else {
        println!("{summary}");
    }
    if summary.counters.vehicles_logged_in == 0 {
        bail!("no vehicle could log in to {}", args.gateway);
    }
    Ok(())
}

/// The checked flags.
struct Plan {
    edition: Edition,
    period_s: u16,
    source_ips: Vec<IpAddr>,
    vins: Vec<String>,
}

impl Plan {
    fn new(args: &SimArgs) -> Result<Self> {
        let edition = match args.edition.as_str() {
            "2025" => Edition::V2025,
            _ => Edition::V2016,
        };
        // Parameter 0x02: 1-600 s in 2016, 1-30 s in 2025.
        let max_period = if edition == Edition::V2025 { 30 } else { 600 };
        if !(1..=max_period).contains(&args.period) {
            bail!("--period must be 1-{max_period} s for the {} edition", args.edition);
        }
        if !(1..=240).contains(&args.heartbeat) {
            bail!("--heartbeat must be 1-240 s");
        }
        if args.vehicles == 0 {
            bail!("--vehicles must be at least 1");
        }
        if !(args.ramp.is_finite() && args.ramp >= 0.0) {
            bail!("--ramp must be a number of seconds");
        }
        if args.register.is_some() && args.api_token.is_none() {
            bail!("--register needs --api-token");
        }
        let prefix = &args.vin_prefix;
        let digits = args.vehicles.to_string().len();
        if !prefix.bytes().all(|b| b.is_ascii_alphanumeric()) || prefix.len() + digits > 17 {
            bail!("--vin-prefix must be ASCII letters and digits leaving room for {digits} digit(s) in 17");
        }
        let vins = (0..args.vehicles).map(|i| report::vin(prefix, i)).collect();
        Ok(Plan {
            edition,
            period_s: args.period as u16,
            source_ips: parse_source_ips(&args.source_ip)?,
            vins,
        })
    }
}

/// Expands `--source-ip`: addresses and inclusive IPv4 ranges `A-B`.
fn parse_source_ips(items: &[String]) -> Result<Vec<IpAddr>> {
    let mut out = Vec::new();
    for item in items.iter().map(|s| s.trim()).filter(|s| !s.is_empty()) {
        if let Some((a, b)) = item.split_once('-') {
            let bad = || format!("--source-ip: {item:?} is not an IPv4 range A-B");
            let a: Ipv4Addr = a.trim().parse().with_context(bad)?;
            let b: Ipv4Addr = b.trim().parse().with_context(bad)?;
            let (a, b) = (u32::from(a), u32::from(b));
            if b < a || b - a >= 1 << 16 {
                bail!("{}", bad());
            }
            out.extend((a..=b).map(|ip| IpAddr::V4(ip.into())));
        } else {
            out.push(
                item.parse()
                    .with_context(|| format!("--source-ip: {item:?} is not an IP address"))?,
            );
        }
    }
    Ok(out)
}

async fn run_fleet(args: &SimArgs, plan: Plan) -> Result<Summary> {
    let gateway = resolve(&args.gateway).await?;
    let devices: Vec<Device> = plan
        .vins
        .iter()
        .enumerate()
        .map(|(i, vin)| Device {
            vin: vin.clone(),
            iccid: report::iccid(i as u32),
        })
        .collect();
    if let (Some(url), Some(token)) = (&args.register, &args.api_token) {
        register::register(url, token, &devices)
            .await
            .context("registering the fleet")?;
        eprintln!(
            "registered {} vehicle(s) at {}",
            devices.len(),
            register::import_url(url)
        );
    }

    let fleet = Arc::new(FleetConfig {
        gateway,
        edition: plan.edition,
        seed: args.seed,
        period_s: plan.period_s,
        heartbeat_s: args.heartbeat,
        store_capacity: args.offline_store,
        activation: !args.no_activation,
        tls: match &args.tls_ca {
            None => None,
            Some(ca) => {
                let client = args.tls_cert.as_deref().zip(args.tls_key.as_deref());
                Some(link::TlsClient::new(ca, client, &args.tls_server_name)?)
            }
        },
    });
    let stats = Arc::new(Stats::default());
    let (stop_tx, stop_rx) = watch::channel(false);
    let start = Instant::now();
    let n = args.vehicles;
    let mut tasks = JoinSet::new();
    for (i, device) in devices.into_iter().enumerate() {
        let offset = Duration::from_secs_f64(args.ramp * i as f64 / f64::from(n));
        let spec = VehicleSpec {
            index: i as u32,
            vin: device.vin,
            iccid: device.iccid,
            source_ip: (!plan.source_ips.is_empty()).then(|| plan.source_ips[i % plan.source_ips.len()]),
            start_at: start + offset,
        };
        tasks.spawn(tbox::run_vehicle(
            Arc::clone(&fleet),
            spec,
            Arc::clone(&stats),
            stop_rx.clone(),
        ));
    }

    let bar = progress_bar(args.duration);
    let end = start + Duration::from_secs(args.duration);
    let mut tick = tokio::time::interval(Duration::from_millis(250));
    let ctrl_c = tokio::signal::ctrl_c();
    tokio::pin!(ctrl_c);
    loop {
        tokio::select! {
            _ = tick.tick() => {
                update(&bar, &stats, n, start);
                if Instant::now() >= end {
                    break;
                }
            }
            _ = tokio::time::sleep_until(end) => break,
            _ = &mut ctrl_c => {
                bar.println("interrupted: logging out");
                break;
            }
        }
    }
    let _ = stop_tx.send(true);
    // Every vehicle logs out and waits a moment for the answer; then stragglers are dropped.
    let deadline = Instant::now() + Duration::from_secs(5);
    while let Ok(Some(joined)) = tokio::time::timeout_at(deadline, tasks.join_next()).await {
        match joined {
            Ok(Ok(())) => {}
            Ok(Err(e)) => bar.println(format!("vehicle task failed: {e:#}")),
            Err(e) => bar.println(format!("vehicle task panicked: {e}")),
        }
    }
    tasks.abort_all();
    update(&bar, &stats, n, start);
    bar.finish_and_clear();
    Ok(Summary::new(
        &stats,
        gateway.to_string(),
        args.edition.clone(),
        n,
        args.period,
        start.elapsed(),
    ))
}

async fn resolve(gateway: &str) -> Result<SocketAddr> {
    tokio::net::lookup_host(gateway)
        .await
        .with_context(|| format!("--gateway {gateway:?}: not a host:port that resolves"))?
        .next()
        .with_context(|| format!("--gateway {gateway:?}: no address"))
}

fn progress_bar(duration: u64) -> ProgressBar {
    let target = if std::io::stderr().is_terminal() {
        ProgressDrawTarget::stderr()
    } else {
        ProgressDrawTarget::hidden()
    };
    let bar = ProgressBar::with_draw_target(Some(duration.max(1)), target);
    let style = ProgressStyle::with_template("{spinner} [{elapsed_precise}] {bar:30} {pos}/{len} s  {msg}")
        .unwrap_or_else(|_| ProgressStyle::default_bar());
    bar.set_style(style);
    bar
}

fn update(bar: &ProgressBar, stats: &Stats, n: u32, start: Instant) {
    let c = stats.counters.snapshot();
    bar.set_position(start.elapsed().as_secs());
    bar.set_message(format!(
        "online {}/{n}  logins {}  sent {}  answers {}  errors {}",
        stats.online(),
        c.logins,
        c.frames_sent,
        c.answers_received,
        c.errors()
    ));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn source_ips_expand_ranges() {
        let ips = parse_source_ips(&["127.0.0.2-127.0.0.4".into(), " ::1 ".into()]).unwrap();
        assert_eq!(ips.len(), 4);
        assert_eq!(ips[2], IpAddr::V4(Ipv4Addr::new(127, 0, 0, 4)));
        assert!(parse_source_ips(&["127.0.0.9-127.0.0.1".into()]).is_err());
        assert!(parse_source_ips(&["nope".into()]).is_err());
    }
}
