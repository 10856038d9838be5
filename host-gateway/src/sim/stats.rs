//! The fleet's counters and latency histograms, shared by every vehicle task (lock-free), and
//! the final summary (text for people, JSON with `--json`).

use std::fmt;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering::Relaxed};
use std::time::Duration;

use serde::Serialize;

/// A latency histogram in microseconds, log-linear like HdrHistogram: exact below 32 µs, then
/// 32 buckets per power of two (within about 3 %). Lock-free: every vehicle task records into
/// the same one.
pub struct Histogram {
    buckets: Box<[AtomicU64]>,
    count: AtomicU64,
    sum_us: AtomicU64,
    max_us: AtomicU64,
}

/// Values below this are their own bucket; above, each octave has this many buckets.
const SUB: u64 = 32;
const SUB_BITS: u32 = 5;
const BUCKETS: usize = (SUB + (64 - SUB_BITS as u64) * SUB) as usize;

fn bucket_of(us: u64) -> usize {
    if us < SUB {
        return us as usize;
    }
    let e = 63 - us.leading_zeros(); // >= SUB_BITS
    let shift = e - SUB_BITS;
    let mantissa = (us >> shift) - SUB; // 0..SUB
    (SUB + u64::from(shift) * SUB + mantissa) as usize
}

/// The highest value that falls into bucket `i`.
fn bucket_high(i: usize) -> u64 {
    let i = i as u64;
    if i < SUB {
        return i;
    }
    let shift = (i - SUB) / SUB;
    let mantissa = (i - SUB) % SUB + SUB;
    ((mantissa + 1) << shift) - 1
}

impl Default for Histogram {
    fn default() -> Self {
        Histogram {
            buckets: (0..BUCKETS).map(|_| AtomicU64::new(0)).collect(),
            count: AtomicU64::new(0),
            sum_us: AtomicU64::new(0),
            max_us: AtomicU64::new(0),
        }
    }
}

impl Histogram {
    /// Records one latency.
    pub fn record(&self, d: Duration) {
        let us = u64::try_from(d.as_micros()).unwrap_or(u64::MAX);
        self.buckets[bucket_of(us)].fetch_add(1, Relaxed);
        self.count.fetch_add(1, Relaxed);
        self.sum_us.fetch_add(us, Relaxed);
        self.max_us.fetch_max(us, Relaxed);
    }

    /// Samples recorded.
    pub fn count(&self) -> u64 {
        self.count.load(Relaxed)
    }

    /// The value at quantile `q` (0..=1), in microseconds: the top of its bucket, never above
    /// the largest sample.
    pub fn quantile_us(&self, q: f64) -> u64 {
        let n = self.count();
        if n == 0 {
            return 0;
        }
        let rank = ((q.clamp(0.0, 1.0) * n as f64).ceil() as u64).max(1);
        let mut seen = 0;
        for (i, b) in self.buckets.iter().enumerate() {
            seen += b.load(Relaxed);
            if seen >= rank {
                return bucket_high(i).min(self.max_us.load(Relaxed));
            }
        }
        self.max_us.load(Relaxed)
    }

    /// Count, mean and percentiles in milliseconds.
    pub fn summary(&self) -> LatencySummary {
        let n = self.count();
        let ms = |us: u64| us as f64 / 1000.0;
        LatencySummary {
            count: n,
            mean_ms: if n == 0 {
                0.0
            } else {
                ms(self.sum_us.load(Relaxed)) / n as f64
            },
            p50_ms: ms(self.quantile_us(0.50)),
            p90_ms: ms(self.quantile_us(0.90)),
            p99_ms: ms(self.quantile_us(0.99)),
            max_ms: ms(self.max_us.load(Relaxed)),
        }
    }
}

/// A latency distribution as printed.
#[derive(Debug, Clone, Serialize)]
pub struct LatencySummary {
    pub count: u64,
    pub mean_ms: f64,
    pub p50_ms: f64,
    pub p90_ms: f64,
    pub p99_ms: f64,
    pub max_ms: f64,
}

impl fmt::Display for LatencySummary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.count == 0 {
            return write!(f, "no samples");
        }
        write!(
            f,
            "p50 {:.1}  p90 {:.1}  p99 {:.1}  max {:.1}  mean {:.1}  (n={})",
            self.p50_ms, self.p90_ms, self.p99_ms, self.max_ms, self.mean_ms, self.count
        )
    }
}

/// Declares the counters once: the shared atomic struct, its snapshot and the snapshot's fields.
macro_rules! counters {
    ($($(#[$doc:meta])* $name:ident,)*) => {
        /// Counters shared by the vehicle tasks.
        #[derive(Default)]
        pub struct Counters {
            $($(#[$doc])* pub $name: AtomicU64,)*
        }

        /// A copy of the counters at one moment.
        #[derive(Debug, Clone, Default, Serialize)]
        pub struct CounterSnapshot {
            $($(#[$doc])* pub $name: u64,)*
        }

        impl Counters {
            /// Reads every counter.
            pub fn snapshot(&self) -> CounterSnapshot {
                CounterSnapshot { $($name: self.$name.load(Relaxed),)* }
            }
        }
    };
}

counters! {
    /// Vehicles whose login was accepted at least once.
    vehicles_logged_in,
    /// Accepted logins (a vehicle logs in again after each reconnection).
    logins,
    /// Logins refused or not answered in time.
    login_failures,
    /// Times a vehicle had to wait out the long login back-off (three failures, parameter 0x0C).
    login_backoffs,
    /// TCP connections established.
    connects,
    /// TCP connection attempts that failed or timed out.
    connect_failures,
    /// Links that ended other than by our logout (peer closed, reset, dead heartbeat, write error).
    disconnects,
    /// Every frame written.
    frames_sent,
    /// Vehicle logins (0x01) sent.
    logins_sent,
    /// Real-time reports (0x02) sent.
    reports_sent,
    /// Reissued reports (0x03) sent.
    reissues_sent,
    /// Heartbeats (0x07) sent.
    heartbeats_sent,
    /// Logouts (0x04) sent.
    logouts_sent,
    /// Time calibrations (0x08) sent.
    time_calibrations_sent,
    /// Activations (2025 0x09) sent.
    activations_sent,
    /// Answers to downlink 0x80/0x81/0x82 sent.
    downlink_answers_sent,
    /// Every whole frame received.
    frames_received,
    /// Answers received (response flag other than 0xFE).
    answers_received,
    /// Answers received with a flag other than success.
    error_answers_received,
    /// Downlink commands received (0x80 query, 0x81 set, 0x82 control).
    downlink_commands_received,
    /// Control commands (0x82) handed to the vehicle.
    controls_received,
    /// Activation answers (2025 0x0A) received.
    activation_answers,
    /// Frames the T-Box machine could not use (bad checksum, other VIN, malformed).
    bad_frames,
    /// Bytes the deframer skipped (garbage, bad checksums).
    discarded_bytes,
    /// Reports dropped because the reissue store was full.
    reports_lost,
    /// Reports the platform refused every time they were sent (B.2.1).
    reports_rejected,
}

impl CounterSnapshot {
    /// Everything that went wrong, in one number.
    pub fn errors(&self) -> u64 {
        self.connect_failures
            + self.disconnects
            + self.login_failures
            + self.error_answers_received
            + self.bad_frames
            + self.reports_lost
            + self.reports_rejected
    }
}

/// Everything the vehicle tasks share.
#[derive(Default)]
pub struct Stats {
    pub counters: Counters,
    /// Vehicles logged in right now.
    pub online: AtomicI64,
    /// From a login frame sent to its success answer.
    pub login_latency: Histogram,
    /// From a request (login, heartbeat, time calibration, logout) sent to its answer.
    pub answer_latency: Histogram,
}

impl Stats {
    /// Adds one to a counter.
    pub fn inc(&self, counter: impl Fn(&Counters) -> &AtomicU64) {
        counter(&self.counters).fetch_add(1, Relaxed);
    }

    /// Adds `n` to a counter.
    pub fn add(&self, n: u64, counter: impl Fn(&Counters) -> &AtomicU64) {
        counter(&self.counters).fetch_add(n, Relaxed);
    }

    /// Vehicles logged in right now.
    pub fn online(&self) -> u64 {
        self.online.load(Relaxed).max(0) as u64
    }
}

/// The final statistics of a run.
#[derive(Debug, Clone, Serialize)]
pub struct Summary {
    pub gateway: String,
    pub edition: String,
    pub vehicles: u32,
    pub period_s: u64,
    pub duration_s: f64,
    #[serde(flatten)]
    pub counters: CounterSnapshot,
    pub errors: u64,
    pub login_latency: LatencySummary,
    pub answer_latency: LatencySummary,
}

impl Summary {
    /// Takes the final figures.
    pub fn new(
        stats: &Stats,
        gateway: String,
        edition: String,
        vehicles: u32,
        period_s: u64,
        elapsed: Duration,
    ) -> Self {
        let counters = stats.counters.snapshot();
        Summary {
            gateway,
            edition,
            vehicles,
            period_s,
            duration_s: (elapsed.as_secs_f64() * 10.0).round() / 10.0,
            errors: counters.errors(),
            counters,
            login_latency: stats.login_latency.summary(),
            answer_latency: stats.answer_latency.summary(),
        }
    }
}

impl fmt::Display for Summary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let c = &self.counters;
        writeln!(
            f,
            "sim: {} vehicle(s), GB/T 32960 {}, gateway {}, period {} s, ran {:.1} s",
            self.vehicles, self.edition, self.gateway, self.period_s, self.duration_s
        )?;
        writeln!(f, "  vehicles logged in  {}/{}", c.vehicles_logged_in, self.vehicles)?;
        writeln!(
            f,
            "  logins              {} accepted, {} failed, {} back-off(s)",
            c.logins, c.login_failures, c.login_backoffs
        )?;
        writeln!(
            f,
            "  connections         {} made, {} failed, {} dropped",
            c.connects, c.connect_failures, c.disconnects
        )?;
        writeln!(
            f,
            "  frames sent         {} (reports {}, reissues {}, heartbeats {}, logins {}, logouts {}, \
             time calibrations {}, activations {}, downlink answers {})",
            c.frames_sent,
            c.reports_sent,
            c.reissues_sent,
            c.heartbeats_sent,
            c.logins_sent,
            c.logouts_sent,
            c.time_calibrations_sent,
            c.activations_sent,
            c.downlink_answers_sent
        )?;
        writeln!(
            f,
            "  frames received     {} (answers {}, of which errors {}; downlink commands {}; activation answers {})",
            c.frames_received,
            c.answers_received,
            c.error_answers_received,
            c.downlink_commands_received,
            c.activation_answers
        )?;
        writeln!(
            f,
            "  errors              {} (connect {}, dropped {}, login {}, error answers {}, bad frames {}, \
             reports lost {}, reports rejected {})",
            self.errors,
            c.connect_failures,
            c.disconnects,
            c.login_failures,
            c.error_answers_received,
            c.bad_frames,
            c.reports_lost,
            c.reports_rejected
        )?;
        writeln!(f, "  login latency ms    {}", self.login_latency)?;
        write!(f, "  answer latency ms   {}", self.answer_latency)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_cover_values_within_three_percent() {
        for us in [0u64, 1, 31, 32, 33, 63, 64, 100, 1_000, 12_345, 1_000_000, u64::MAX / 3] {
            let i = bucket_of(us);
            let high = bucket_high(i);
            assert!(high >= us, "{us} above its bucket top {high}");
            assert!(high - us <= us / 32 + 1, "{us} in a bucket up to {high}");
            assert!(i < BUCKETS);
        }
        assert_eq!(bucket_of(u64::MAX), BUCKETS - 1);
    }

    #[test]
    fn quantiles_of_a_uniform_sample() {
        let h = Histogram::default();
        for ms in 1..=100 {
            h.record(Duration::from_millis(ms));
        }
        let s = h.summary();
        assert_eq!(s.count, 100);
        assert!((s.p50_ms - 50.0).abs() < 2.0, "{s:?}");
        assert!((s.p99_ms - 99.0).abs() < 3.5, "{s:?}");
        assert_eq!(s.max_ms, 100.0);
        assert!((s.mean_ms - 50.5).abs() < 1e-9);
    }
}
