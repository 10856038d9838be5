//! Reading the figures: sim counters and latencies, Prometheus metrics.

// ---------------------------------------------------------------------------------------------
// Reading the figures
// ---------------------------------------------------------------------------------------------

/// The sims' counters added up; latency quantiles cannot be merged, so with several processes
/// the worst p99 and max are shown.
#[derive(Default)]
pub(super) struct SimTotals {
    pub(super) frames_sent: u64,
    pub(super) reports_sent: u64,
    pub(super) logins_sent: u64,
    pub(super) heartbeats_sent: u64,
    pub(super) logged_in: u64,
    pub(super) logins: u64,
    pub(super) login_failures: u64,
    pub(super) connect_failures: u64,
    pub(super) disconnects: u64,
    pub(super) errors: u64,
    pub(super) login: String,
    pub(super) answer: String,
}

impl SimTotals {
    pub(super) fn of(summaries: &[String]) -> Self {
        let mut t = SimTotals::default();
        let (mut login, mut answer) = (Vec::new(), Vec::new());
        for s in summaries {
            let n = |k: &str| json_number(s, k).unwrap_or(0.0) as u64;
            t.frames_sent += n("frames_sent");
            t.reports_sent += n("reports_sent");
            t.logins_sent += n("logins_sent");
            t.heartbeats_sent += n("heartbeats_sent");
            t.logged_in += n("vehicles_logged_in");
            t.logins += n("logins");
            t.login_failures += n("login_failures");
            t.connect_failures += n("connect_failures");
            t.disconnects += n("disconnects");
            t.errors += n("errors");
            login.push(latency(s, "login_latency"));
            answer.push(latency(s, "answer_latency"));
        }
        t.login = login.join(" | ");
        t.answer = answer.join(" | ");
        t
    }
}

pub(super) fn latency(json: &str, key: &str) -> String {
    let Some(start) = json.find(&format!("\"{key}\":{{")) else {
        return "n/a".into();
    };
    let obj = &json[start..];
    let obj = &obj[..obj.find('}').unwrap_or(obj.len())];
    let f = |k: &str| json_number(obj, k).unwrap_or(f64::NAN);
    format!(
        "p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms (n={})",
        f("p50_ms"),
        f("p99_ms"),
        f("max_ms"),
        f("count")
    )
}

/// The first number after `"key":` in a JSON text (enough for the sim's flat summary).
pub(super) fn json_number(json: &str, key: &str) -> Option<f64> {
    let pat = format!("\"{key}\":");
    let at = json.find(&pat)? + pat.len();
    let rest = json[at..].trim_start();
    let end = rest
        .find(|c: char| !(c.is_ascii_digit() || "+-.eE".contains(c)))
        .unwrap_or(rest.len());
    rest[..end].parse().ok()
}

/// A sample without labels from the Prometheus text format.
pub(super) fn metric_value(text: &str, name: &str) -> Option<f64> {
    text.lines().find_map(|l| {
        let rest = l.strip_prefix(name)?;
        let rest = rest.strip_prefix(' ')?;
        rest.split_whitespace().next()?.parse().ok()
    })
}

/// Count, mean and bucket-bounded quantiles of a Prometheus histogram.
pub(super) struct HistogramSummary {
    pub(super) count: f64,
    pub(super) sum: f64,
    pub(super) buckets: Vec<(f64, f64)>,
}

impl HistogramSummary {
    pub(super) fn parse(text: &str, name: &str) -> Self {
        let mut buckets = Vec::new();
        let bucket = format!("{name}_bucket{{le=\"");
        for l in text.lines() {
            if let Some(rest) = l.strip_prefix(&bucket) {
                let Some((le, value)) = rest.split_once("\"}") else {
                    continue;
                };
                let le = if le == "+Inf" {
                    f64::INFINITY
                } else {
                    le.parse().unwrap_or(f64::NAN)
                };
                if let Some(v) = value.split_whitespace().next().and_then(|v| v.parse().ok()) {
                    buckets.push((le, v));
                }
            }
        }
        HistogramSummary {
            count: metric_value(text, &format!("{name}_count")).unwrap_or(0.0),
            sum: metric_value(text, &format!("{name}_sum")).unwrap_or(0.0),
            buckets,
        }
    }

    /// The upper bound of the bucket holding quantile `q`.
    pub(super) fn quantile(&self, q: f64) -> f64 {
        let rank = q * self.count;
        self.buckets
            .iter()
            .find(|(_, c)| *c >= rank)
            .map_or(f64::NAN, |(le, _)| *le)
    }
}

impl std::fmt::Display for HistogramSummary {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.count == 0.0 {
            return write!(f, "n/a (no store_write_seconds in /metrics)");
        }
        write!(
            f,
            "{:.0} transactions, mean {:.2} ms, p50 ≤ {:.2} ms, p99 ≤ {:.2} ms (histogram bucket bounds)",
            self.count,
            self.sum / self.count * 1e3,
            self.quantile(0.5) * 1e3,
            self.quantile(0.99) * 1e3,
        )
    }
}
