//! `xtask __relay 127.0.0.1:PORT`: the per-connection relay QEMU starts for each guest TCP
//! connection to its `guestfwd` address (`guestfwd=tcp:IP:PORT-cmd:...`).
//!
//! libslirp hands the command one socket as its stdin, stdout **and stderr**, so anything
//! written to stderr lands in the guest's TCP stream: the relay writes nothing but relayed
//! bytes, installs a silent panic hook, and reports failure only by exiting (the guest then
//! sees its connection close, as it would for a refused one). One process per connection means
//! a reconnect is a fresh host connection, which is what a gateway restart test needs.

use std::fs::File;
use std::io::{copy, stdin, stdout};
use std::net::{Shutdown, SocketAddr, TcpStream};
use std::os::fd::AsFd;
use std::process::ExitCode;
use std::thread;
use std::time::Duration;

/// The hidden subcommand's name.
pub const COMMAND: &str = "__relay";

/// Relays between QEMU's socket (stdin/stdout) and `target` until either side closes.
pub fn run(args: &[String]) -> ExitCode {
    std::panic::set_hook(Box::new(|_| {}));
    let Some(target) = args.first().and_then(|a| a.parse::<SocketAddr>().ok()) else {
        return ExitCode::from(2);
    };
    if !target.ip().is_loopback() {
        // The harness only ever relays to loopback.
        return ExitCode::from(2);
    }
    match relay(target) {
        Ok(()) => ExitCode::SUCCESS,
        Err(_) => ExitCode::FAILURE,
    }
}

fn relay(target: SocketAddr) -> std::io::Result<()> {
    let upstream = TcpStream::connect_timeout(&target, Duration::from_secs(5))?;
    upstream.set_nodelay(true)?;
    // Owned duplicates of fds 0 and 1 (the same socketpair end), usable as files.
    let mut guest_in = File::from(stdin().as_fd().try_clone_to_owned()?);
    let mut guest_out = File::from(stdout().as_fd().try_clone_to_owned()?);
    let mut up_write = upstream.try_clone()?;
    let mut up_read = upstream;
    let to_gateway = thread::spawn(move || {
        let _ = copy(&mut guest_in, &mut up_write);
        // The guest closed (or the socket failed): let the gateway see EOF.
        let _ = up_write.shutdown(Shutdown::Write);
    });
    let _ = copy(&mut up_read, &mut guest_out);
    // The gateway closed: end the process, which closes the guest's side too.
    drop(to_gateway);
    Ok(())
}
