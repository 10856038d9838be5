//! The open-file limit: the gateway holds one socket per connected vehicle and the simulator one
//! per simulated vehicle, so large fleets need more descriptors than the usual soft limit of
//! 1024. Both raise their soft `RLIMIT_NOFILE` to the hard limit at start (an unprivileged
//! process may), through rustix's safe wrappers.

use rustix::process::{getrlimit, setrlimit, Resource, Rlimit};

/// Descriptors kept for everything that is not a vehicle's socket (runtime, HTTP, store, stdio).
const MARGIN: u64 = 64;

/// Raises the soft `RLIMIT_NOFILE` to the hard limit if `sockets` connections need it, and warns
/// on stderr when they still do not fit. Returns the soft limit in force afterwards (`None` when
/// it is unlimited).
pub fn raise_nofile_limit(sockets: u32) -> Option<u64> {
    let needed = u64::from(sockets) + MARGIN;
    let (soft, _) = nofile()?;
    if soft >= needed {
        return Some(soft);
    }
    raise_nofile_to_hard();
    let (soft, hard) = nofile()?;
    if soft < needed {
        eprintln!(
            "warning: {sockets} connection(s) need about {needed} open files, the limit is {soft} (hard {hard}): \
             at most about {} can be connected; raise it with `ulimit -n`",
            soft.saturating_sub(MARGIN)
        );
    }
    Some(soft)
}

/// Raises the soft `RLIMIT_NOFILE` to the hard limit (a server that does not know how many
/// connections will come); returns the soft limit in force afterwards.
pub fn raise_nofile_to_hard() -> Option<u64> {
    let (soft, hard) = nofile()?;
    if hard > soft {
        let _ = setrlimit(
            Resource::Nofile,
            Rlimit {
                current: Some(hard),
                maximum: Some(hard),
            },
        );
    }
    nofile().map(|(soft, _)| soft)
}

/// (soft, hard) open-file limits of this process; `None` when the soft limit is unlimited.
fn nofile() -> Option<(u64, u64)> {
    let r = getrlimit(Resource::Nofile);
    let soft = r.current?;
    Some((soft, r.maximum.unwrap_or(u64::MAX)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_limit_is_read_and_small_fleets_fit() {
        if let Some((soft, hard)) = nofile() {
            assert!(soft <= hard);
            assert_eq!(raise_nofile_limit(1), Some(soft));
            // Raised to the hard limit (None: it became unlimited).
            assert!(raise_nofile_to_hard().is_none_or(|now| now == hard));
        }
    }
}
