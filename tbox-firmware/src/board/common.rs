//! What every board does the same way once its network interface is up: the `embassy-net`
//! stack over it (DHCP) and the log line with the address, the RAM reissue store, the TLS
//! material built into the image, and the hand-over to [`tbox_firmware::boot`].

use core::future::Future;

use embassy_executor::{SpawnError, SpawnToken, Spawner};
use embassy_net::driver::Driver;
use embassy_net::{Runner, Stack, StackResources};
use static_cell::ConstStaticCell;
use tbox_firmware::app::Platform;
use tbox_firmware::boot::RamStore;
use tbox_firmware::config::DeviceConfig;
use tbox_firmware::params::Nvm;
use tbox_firmware::vehicle::SimulatedVehicle;

/// The gateway the hardware boards dial when `TBOX_GATEWAY_HOST` was not given at build time:
/// a name under `.invalid` (RFC 2606), which never resolves, so an unconfigured device reaches
/// no gateway by accident (as `tbox-wifi-not-configured` joins no network on the ESP32-C3).
#[cfg(any(feature = "nucleo-f767zi", feature = "nucleo-h743zi", feature = "esp32c3"))]
pub const UNCONFIGURED_GATEWAY_HOST: &str = "gateway-not-configured.invalid";

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

/// The network stack over `driver`, configured by DHCP, its sockets' sequence numbers and
/// ports seeded with `seed` (from the board's entropy). The board runs the runner in a task of
/// its own (tasks cannot be generic) and gives that to [`spawn_network`].
pub fn dhcp_stack<D: Driver>(driver: D, seed: u64) -> (Stack<'static>, Runner<'static, D>) {
    // Sockets: TCP, DNS, DHCP.
    static RESOURCES: ConstStaticCell<StackResources<3>> = ConstStaticCell::new(StackResources::new());
    embassy_net::new(
        driver,
        embassy_net::Config::dhcpv4(Default::default()),
        RESOURCES.take(),
        seed,
    )
}

/// Spawns the board's network runner task and [`address_logger`].
pub fn spawn_network<S>(spawner: Spawner, runner: Result<SpawnToken<S>, SpawnError>, stack: Stack<'static>) {
    match (runner, address_logger(stack)) {
        (Ok(runner), Ok(logger)) => {
            spawner.spawn(runner);
            spawner.spawn(logger);
        }
        _ => panic!("network tasks not spawned"),
    }
}

/// Runs the application over `stack`: TLS 1.3 with the credentials built into the image
/// ([`tbox_firmware::tls::TlsCredentials::built_in`]) with feature `tls`, plain TCP otherwise.
/// Reports kept while offline wait in RAM (a reset loses them).
///
/// Not an `async fn` on purpose: it returns [`tbox_firmware::boot`]'s future itself (which
/// never finishes; its output is `!`, which cannot be named here), and the board's task awaits
/// that. An `async fn` here would build that future (the whole application, about 20 KiB) as a
/// temporary on the stack in its first poll, besides the room the task's own frame keeps for
/// it: under QEMU that took the TCP build's stack high-water from 6 KiB to 29 KiB.
pub fn run<'a>(
    device: DeviceConfig,
    stack: Stack<'a>,
    rng: impl Entropy + 'a,
    nvm: impl Nvm + 'a,
    platform: impl Platform + 'a,
) -> impl Future<Output = impl Sized> + 'a {
    static STORE: ConstStaticCell<RamStore> = ConstStaticCell::new(RamStore::new());
    let store = STORE.take();
    // No board has its vehicle bus wired up yet: the simulated vehicle reports.
    let vehicle = SimulatedVehicle::new();

    #[cfg(not(feature = "tls"))]
    {
        let _ = rng; // the network stack was seeded from it already
        tbox_firmware::boot::run_tcp(device, stack, nvm, store, vehicle, platform)
    }

    #[cfg(feature = "tls")]
    {
        let credentials = tbox_firmware::tls::TlsCredentials::built_in();
        tbox_firmware::boot::run_tls(device, stack, credentials, rng, nvm, store, vehicle, platform)
    }
}

/// Logs the address once DHCP has given one (`cargo xtask qemu-test` waits for this line).
#[embassy_executor::task]
pub async fn address_logger(stack: Stack<'static>) {
    stack.wait_config_up().await;
    if let Some(config) = stack.config_v4() {
        let [a, b, c, d] = config.address.address().octets();
        tbox_firmware::info!("net: dhcp address {a}.{b}.{c}.{d}/{}", config.address.prefix_len());
    }
}
