//! What the hardware boards share once their network stack is up: the RAM reissue store, the
//! TLS material built into the image, and the hand-over to [`tbox_firmware::boot`].

use embassy_net::Stack;
use static_cell::ConstStaticCell;
use tbox_firmware::app::Platform;
use tbox_firmware::boot::{RamStore, StoreRef};
use tbox_firmware::config::DeviceConfig;
use tbox_firmware::params::Nvm;
use tbox_firmware::vehicle::SimulatedVehicle;

/// What the transport needs of the board's RNG: a cryptographic generator (rand_core 0.6) for
/// TLS; nothing over plain TCP.
#[cfg(feature = "tls")]
pub trait Entropy: embedded_tls::CryptoRngCore {}
#[cfg(feature = "tls")]
impl<T: embedded_tls::CryptoRngCore> Entropy for T {}
/// What the transport needs of the board's RNG: nothing over plain TCP.
#[cfg(not(feature = "tls"))]
pub trait Entropy {}
#[cfg(not(feature = "tls"))]
impl<T> Entropy for T {}

/// Runs the application over `stack`: TLS 1.3 with the certificates given at build time
/// (`TBOX_TLS_DIR`, `TBOX_TLS_SERVER_NAME`) with feature `tls`, plain TCP otherwise. Reports
/// kept while offline wait in RAM (a reset loses them).
pub async fn run(
    device: DeviceConfig,
    stack: Stack<'_>,
    rng: impl Entropy,
    nvm: impl Nvm,
    platform: impl Platform,
) -> ! {
    static STORE: ConstStaticCell<RamStore> = ConstStaticCell::new(RamStore::new());
    let store = StoreRef(STORE.take());
    // The vehicle bus is not wired up on these boards yet: the simulated vehicle reports.
    let vehicle = SimulatedVehicle::new();

    #[cfg(not(feature = "tls"))]
    {
        let _ = rng; // the network stack was seeded from it already
        tbox_firmware::boot::run_tcp(device, stack, nvm, store, vehicle, platform).await
    }

    #[cfg(feature = "tls")]
    {
        let credentials = tbox_firmware::tls::TlsCredentials {
            ca: include_bytes!(concat!(env!("OUT_DIR"), "/tls/ca.der")),
            cert: include_bytes!(concat!(env!("OUT_DIR"), "/tls/device.der")),
            key: include_bytes!(concat!(env!("OUT_DIR"), "/tls/device-key.der")),
            server_name: option_env!("TBOX_TLS_SERVER_NAME").unwrap_or("gateway.test"),
        };
        tbox_firmware::boot::run_tls(device, stack, credentials, rng, nvm, store, vehicle, platform).await
    }
}

/// Logs the address once DHCP has given one.
#[embassy_executor::task]
pub async fn address_logger(stack: Stack<'static>) {
    stack.wait_config_up().await;
    if let Some(config) = stack.config_v4() {
        let [a, b, c, d] = config.address.address().octets();
        tbox_firmware::info!("net: dhcp address {a}.{b}.{c}.{d}/{}", config.address.prefix_len());
    }
}
