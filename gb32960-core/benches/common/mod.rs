//! Shared by the bench targets `codec` (2016) and `codec2025`: record building and reading
//! helpers, and the summary table printed on stderr, read back from criterion's
//! `estimates.json` files. Not a bench target itself (Cargo only discovers `benches/*.rs` and
//! `benches/*/main.rs`).

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::SystemTime;

use gb32960_core::wire::{Element, Field, List};
use gb32960_core::Reading;

// ---------------------------------------------------------------------------------------------
// Building and reading records.

/// A fixed record of `N` bytes with the given fields set through the field table.
pub fn rec<const N: usize>(fields: &[(Field, f64)]) -> [u8; N] {
    let mut r = [0u8; N];
    for (f, v) in fields {
        f.set(&mut r, Reading::Valid(*v))
            .unwrap_or_else(|e| panic!("{}: {e:?}", f.name));
    }
    r
}

/// The sum of the raw values of every field of `table` in `record`.
pub fn fields(record: &[u8], table: &[Field]) -> u64 {
    table.iter().map(|f| u64::from(f.raw(record))).sum()
}

/// The sum of a list's elements (0 for a sentinel count).
pub fn list_sum<T: Element + Into<u64>>(l: Reading<List<'_, T>>) -> u64 {
    l.valid().map_or(0, |l| l.iter().map(Into::into).sum())
}

// ---------------------------------------------------------------------------------------------
// Summary, read back from criterion's files.

/// (criterion id, frames per iteration, bytes per iteration) of each benchmark, for the summary.
static RUN: Mutex<Vec<(String, u64, u64)>> = Mutex::new(Vec::new());

/// Records a benchmark for the summary.
pub fn note(id: &str, frames: u64, bytes: u64) {
    RUN.lock().unwrap().push((id.to_string(), frames, bytes));
}

fn criterion_dir() -> PathBuf {
    if let Some(p) = std::env::var_os("CRITERION_HOME") {
        return p.into();
    }
    if let Some(p) = std::env::var_os("CARGO_TARGET_DIR") {
        return Path::new(&p).join("criterion");
    }
    // target/release/deps/codec-xxxx
    let exe = std::env::current_exe().unwrap_or_default();
    match exe.ancestors().nth(3) {
        Some(target) => target.join("criterion"),
        None => PathBuf::from("target/criterion"),
    }
}

/// The typical time per iteration in ns (slope if criterion fitted one, else the mean), with
/// its confidence interval, of a benchmark measured after `since`.
fn estimate(dir: &Path, since: SystemTime) -> Option<[f64; 3]> {
    let file = dir.join("new").join("estimates.json");
    if std::fs::metadata(&file).ok()?.modified().ok()? < since {
        return None;
    }
    let v: serde_json::Value = serde_json::from_slice(&std::fs::read(&file).ok()?).ok()?;
    let e = if v["slope"].is_object() {
        &v["slope"]
    } else {
        &v["mean"]
    };
    let ci = &e["confidence_interval"];
    Some([
        e["point_estimate"].as_f64()?,
        ci["lower_bound"].as_f64()?,
        ci["upper_bound"].as_f64()?,
    ])
}

/// Criterion's directory of each benchmark, by full id (from its `new/benchmark.json`).
fn bench_dirs(dir: &Path, out: &mut HashMap<String, PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for e in entries.flatten() {
        let p = e.path();
        if p.file_name().is_some_and(|n| n == "new") {
            let id = std::fs::read(p.join("benchmark.json"))
                .ok()
                .and_then(|b| serde_json::from_slice::<serde_json::Value>(&b).ok())
                .and_then(|v| v["full_id"].as_str().map(str::to_string));
            if let Some(id) = id {
                out.insert(id, dir.to_path_buf());
            }
        } else if p.is_dir() {
            bench_dirs(&p, out);
        }
    }
}

/// Prints the table of every benchmark noted and measured after `since` (time/iter with its
/// confidence interval, MB/s, frames/s), then `ours vs peer: N×` for each pair of ids in
/// `ratios` (peer time ÷ our time). Returns the point estimates in ns, by id.
pub fn summary(since: SystemTime, ratios: &[(&str, &str)]) -> HashMap<String, f64> {
    let mut dirs = HashMap::new();
    bench_dirs(&criterion_dir(), &mut dirs);
    let mut times = HashMap::new();
    eprintln!("\n| benchmark | time/iter | MB/s | frames/s |\n| --- | ---: | ---: | ---: |");
    for (id, frames, bytes) in RUN.lock().unwrap().iter() {
        let Some(dir) = dirs.get(id) else {
            continue;
        };
        let Some([t, lo, hi]) = estimate(dir, since) else {
            continue;
        };
        times.insert(id.clone(), t);
        let mb_s = *bytes as f64 / t * 1e3;
        // Two decimals below 10 MB/s, where signature verification and the 2025 peer sit.
        let mb_s = if mb_s < 10.0 {
            format!("{mb_s:.2}")
        } else {
            format!("{mb_s:.0}")
        };
        eprintln!(
            "| `{id}` | {} [{} {}] | {mb_s} | {:.0} |",
            fmt_ns(t),
            fmt_ns(lo),
            fmt_ns(hi),
            *frames as f64 / t * 1e9
        );
    }
    for (ours, peer) in ratios {
        if let (Some(a), Some(b)) = (times.get(*ours), times.get(*peer)) {
            eprintln!("{ours} vs {peer}: {:.1}x", b / a);
        }
    }
    times
}

/// A time in ns, with a unit that suits it.
pub fn fmt_ns(t: f64) -> String {
    match t {
        t if t < 1e3 => format!("{t:.1} ns"),
        t if t < 1e6 => format!("{:.2} µs", t / 1e3),
        t => format!("{:.3} ms", t / 1e6),
    }
}
