//! From a board's network stack to a running application: what every board shares once its
//! hardware is up. A board calls [`run_tcp`] or (feature `tls`) [`run_tls`] from its main task;
//! the buffers below live in that task's future, i.e. in static memory, not on the stack.

use embassy_net::Stack;
use gb32960_core::session::reissue::{MemoryStore, ReissueStore};

use crate::app::{App, Platform};
use crate::config::DeviceConfig;
use crate::info;
use crate::net::TcpTransport;
use crate::params::{self, Nvm};
use crate::transport::Transport;
use crate::vehicle::VehicleSource;

/// Reports the RAM store keeps while offline (at the default 10 s period: about 10 minutes).
pub const REISSUE_SLOTS: usize = 64;
/// Largest report the RAM store keeps (the simulated vehicle's are about 80 bytes; signed
/// 2025 ones about 130, of which 70 are the signature).
pub const STORE_SLOT: usize = if cfg!(feature = "edition-2025") { 160 } else { 128 };
/// The reissue store of boards without flash for it (all of them, so far). Kept in a `static`
/// and lent to the machine as `&mut RamStore` (also a `ReissueStore`), so that its kilobytes
/// exist once rather than being moved through the start-up futures.
pub type RamStore = MemoryStore<REISSUE_SLOTS, STORE_SLOT>;

/// TCP socket buffers: frames are small (an uplink frame is at most 512 bytes here), a few in
/// flight; TLS records stream through them.
const TCP_RX: usize = 1024;
const TCP_TX: usize = 1024;
/// TLS record buffers. Reading: one whole record. The gateway caps its records at
/// `max_fragment_size` (docs/tls.md; 4096 bytes by default, header included), which is what
/// lets a T-Box do without the 16 KiB + 256 a record may otherwise take; a gateway configured
/// higher needs this raised to match. Writing: our largest record (ClientHello, certificate).
#[cfg(feature = "tls")]
const TLS_READ: usize = 4096 + 256;
#[cfg(feature = "tls")]
const TLS_WRITE: usize = 2048;

/// Runs the T-Box over plain TCP.
pub async fn run_tcp<N: Nvm, S: ReissueStore, V: VehicleSource, P: Platform>(
    device: DeviceConfig,
    stack: Stack<'_>,
    nvm: N,
    store: S,
    vehicle: V,
    platform: P,
) -> ! {
    let mut rx = [0u8; TCP_RX];
    let mut tx = [0u8; TCP_TX];
    let mut transport = TcpTransport::new(stack, &mut rx, &mut tx);
    info!("boot: transport tcp");
    run_over(device, &mut transport, nvm, store, vehicle, platform).await
}

/// Runs the T-Box over TLS 1.3 with mutual certificates.
#[cfg(feature = "tls")]
#[allow(clippy::too_many_arguments)] // one call per board, each argument a distinct resource
pub async fn run_tls<N: Nvm, S: ReissueStore, V: VehicleSource, P: Platform, R: embedded_tls::CryptoRngCore>(
    device: DeviceConfig,
    stack: Stack<'_>,
    credentials: crate::tls::TlsCredentials<'_>,
    rng: R,
    nvm: N,
    store: S,
    vehicle: V,
    platform: P,
) -> ! {
    let mut rx = [0u8; TCP_RX];
    let mut tx = [0u8; TCP_TX];
    let mut read = [0u8; TLS_READ];
    let mut write = [0u8; TLS_WRITE];
    let tcp = TcpTransport::new(stack, &mut rx, &mut tx);
    let mut transport = crate::tls::TlsTransport::new(tcp, credentials, rng, &mut read, &mut write);
    info!("boot: transport tls (server name {})", credentials.server_name);
    run_over(device, &mut transport, nvm, store, vehicle, platform).await
}

async fn run_over<T: Transport, N: Nvm, S: ReissueStore, V: VehicleSource, P: Platform>(
    device: DeviceConfig,
    transport: &mut T,
    mut nvm: N,
    store: S,
    vehicle: V,
    platform: P,
) -> ! {
    let params = match params::load(&mut nvm).await {
        Some(p) => {
            info!("params: loaded from memory");
            p
        }
        None => {
            info!("params: factory settings");
            device.factory_params()
        }
    };
    let app = App::new(device, params, store, vehicle, platform);
    app.run(transport, &mut nvm).await
}
