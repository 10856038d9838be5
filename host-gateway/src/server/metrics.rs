//! Prometheus metrics, served at `/metrics` on the API listener.

use prometheus_client::encoding::text::encode;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::registry::Registry;

type Labels = Vec<(String, String)>;

fn label(k: &str, v: &str) -> Labels {
    vec![(k.to_string(), v.to_string())]
}

/// The gateway's metrics.
pub struct Metrics {
    registry: Registry,
    connections: Gauge,
    connections_total: Counter,
    logins: Family<Labels, Counter>,
    frames: Family<Labels, Counter>,
    decode_errors: Family<Labels, Counter>,
    store_latency: Histogram,
    downlinks: Family<Labels, Counter>,
    activations: Family<Labels, Counter>,
    purged: Counter,
    tls_handshakes: Family<Labels, Counter>,
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    pub fn new() -> Self {
        let mut registry = Registry::with_prefix("gb32960_gateway");
        let m = Metrics {
            connections: Gauge::default(),
            connections_total: Counter::default(),
            logins: Family::default(),
            frames: Family::default(),
            decode_errors: Family::default(),
            store_latency: Histogram::new(exponential_buckets(0.0002, 2.0, 16)),
            downlinks: Family::default(),
            activations: Family::default(),
            purged: Counter::default(),
            tls_handshakes: Family::default(),
            registry: Registry::default(),
        };
        registry.register("connections", "Open TCP connections", m.connections.clone());
        registry.register(
            "connections_accepted",
            "TCP connections accepted",
            m.connections_total.clone(),
        );
        registry.register("logins", "Vehicle logins by result", m.logins.clone());
        registry.register("frames", "Accepted frames by command", m.frames.clone());
        registry.register(
            "decode_errors",
            "Bytes dropped or frames refused, by kind",
            m.decode_errors.clone(),
        );
        registry.register(
            "store_write_seconds",
            "Latency of a store transaction",
            m.store_latency.clone(),
        );
        registry.register("downlinks", "Downlink commands by outcome", m.downlinks.clone());
        registry.register("activations", "2025 activations by result", m.activations.clone());
        registry.register("purged_frames", "Frames deleted by retention", m.purged.clone());
        registry.register(
            "tls_handshakes",
            "TLS handshakes by result (ok, failed, timeout, revoked)",
            m.tls_handshakes.clone(),
        );
        Metrics { registry, ..m }
    }

    pub fn connection_opened(&self) {
        self.connections.inc();
        self.connections_total.inc();
    }

    pub fn connection_closed(&self) {
        self.connections.dec();
    }

    pub fn login(&self, result: &str) {
        self.logins.get_or_create(&label("result", result)).inc();
    }

    pub fn frame(&self, command: &str) {
        self.frames.get_or_create(&label("command", command)).inc();
    }

    pub fn decode_error(&self, kind: &str) {
        self.decode_errors.get_or_create(&label("kind", kind)).inc();
    }

    pub fn store_latency(&self, secs: f64) {
        self.store_latency.observe(secs);
    }

    pub fn downlink(&self, outcome: &str) {
        self.downlinks.get_or_create(&label("outcome", outcome)).inc();
    }

    pub fn activation(&self, result: &str) {
        self.activations.get_or_create(&label("result", result)).inc();
    }

    pub fn purged(&self, n: u64) {
        self.purged.inc_by(n);
    }

    pub fn tls_handshake(&self, result: &str) {
        self.tls_handshakes.get_or_create(&label("result", result)).inc();
    }

    /// The text exposition format.
    pub fn render(&self) -> String {
        let mut s = String::new();
        let _ = encode(&mut s, &self.registry);
        s
    }
}
