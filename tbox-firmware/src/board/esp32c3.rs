//! ESP32-C3 (RISC-V, riscv32imc) over Wi-Fi: any ESP32-C3 module with 4 MiB of flash, e.g. an
//! ESP32-C3-DevKitM-1. **Build-checked only**: this code has not run on a board.
//!
//! * Runtime: esp-rtos (scheduler, `embassy-time` driver, the embassy executor); esp-radio for
//!   the Wi-Fi station; a heap (esp-alloc) for the radio's driver.
//! * Network: Wi-Fi station to the network named at build time by `TBOX_WIFI_SSID` and
//!   `TBOX_WIFI_PASSWORD` (WPA2-Personal; an empty password joins an open network). Unset, the
//!   firmware looks for a network called `tbox-wifi-not-configured` and so never connects:
//!   no credential is built in. Then DHCP.
//! * Entropy: the TRNG (RF and SAR ADC noise; rand_core 0.6 `CryptoRng`) keys TLS and seeds
//!   the stack.
//! * Parameters: the `nvs` data partition of the flash's partition table (espflash's default
//!   table has one of 24 KiB), used as six erase blocks by [`tbox_firmware::params::nor`], not
//!   in ESP-IDF's NVS format (nothing else in this firmware uses that partition). Without such
//!   a partition the parameters stay in RAM and a reset loses them. Reissue store: RAM.
//! * Logging: the firmware's lines on the USB-serial-JTAG / UART0 console (esp-println); panics
//!   through esp-backtrace.
//! * Wall clock: none kept: frame times start with the platform's time calibration.

use esp_alloc as _;
use esp_backtrace as _;

use embassy_executor::Spawner;
use embassy_net::Runner;
use embassy_time::{Duration, Timer};
use esp_bootloader_esp_idf::partitions::{self, DataPartitionSubType, PartitionType};
use esp_hal::clock::CpuClock;
use esp_hal::rng::{Trng, TrngSource};
use esp_hal::timer::timg::TimerGroup;
use esp_radio::wifi::sta::StationConfig;
use esp_radio::wifi::{AuthenticationMethodConfig, Config as WifiConfig, ControllerConfig, Interface, WifiController};
use esp_storage::FlashStorage;
use static_cell::StaticCell;
use tbox_firmware::app::Platform;
use tbox_firmware::config::DeviceConfig;
use tbox_firmware::info;
use tbox_firmware::params::nor::NorNvm;
use tbox_firmware::params::{Nvm, NvmError, RamNvm, RECORD_CAPACITY};

use super::common;

esp_bootloader_esp_idf::esp_app_desc!();

/// Hardware version (parameter 0x07).
const HARDWARE_VERSION: [u8; 5] = *b"ESPC3";

/// The network to join, from the build environment; the defaults cannot connect.
const SSID: &str = match option_env!("TBOX_WIFI_SSID") {
    Some(ssid) => ssid,
    None => "tbox-wifi-not-configured",
};
const PASSWORD: &str = match option_env!("TBOX_WIFI_PASSWORD") {
    Some(password) => password,
    None => "",
};
const _: () = assert!(SSID.len() <= 32, "TBOX_WIFI_SSID: at most 32 bytes");
const _: () = assert!(PASSWORD.len() <= 64, "TBOX_WIFI_PASSWORD: at most 64 bytes");

/// How long to wait before joining again after a failed attempt or a lost association.
const REJOIN_DELAY: Duration = Duration::from_secs(5);

fn log_sink(args: core::fmt::Arguments<'_>) {
    esp_println::println!("{args}");
}

#[esp_hal::main]
async fn main(spawner: Spawner) {
    tbox_firmware::log::set_sink(log_sink);
    let p = esp_hal::init(esp_hal::Config::default().with_cpu_clock(CpuClock::max()));
    // The radio's driver allocates: the RAM the bootloader used, and some more.
    esp_alloc::heap_allocator!(#[esp_hal::ram(reclaimed)] size: 64 * 1024);
    esp_alloc::heap_allocator!(size: 36 * 1024);
    let timg0 = TimerGroup::new(p.TIMG0);
    esp_rtos::start(timg0.timer0, p.FROM_CPU_INTR0);
    info!("boot: tbox-firmware {} on esp32c3", env!("CARGO_PKG_VERSION"));

    // Kept for the whole run: the TRNG is only random while its source is enabled.
    let _trng_source = TrngSource::new(p.RNG, p.ADC1);
    let rng = match Trng::try_new() {
        Ok(rng) => rng,
        Err(_) => panic!("trng: no entropy source"),
    };

    let password = match PASSWORD {
        "" => AuthenticationMethodConfig::Open,
        password => match password.try_into() {
            Ok(password) => AuthenticationMethodConfig::Wpa2Personal(password),
            Err(_) => panic!("wifi: unusable TBOX_WIFI_PASSWORD"),
        },
    };
    let ssid = match SSID.try_into() {
        Ok(ssid) => ssid,
        Err(_) => panic!("wifi: unusable TBOX_WIFI_SSID"),
    };
    let station = WifiConfig::Station(StationConfig::default().with_ssid(ssid).with_authentication(password));
    let controller = match WifiController::new(p.WIFI, ControllerConfig::default().with_initial_config(station)) {
        Ok(controller) => controller,
        Err(e) => panic!("wifi: {e:?}"),
    };
    if option_env!("TBOX_WIFI_SSID").is_none() {
        info!("wifi: built without TBOX_WIFI_SSID: looking for `{SSID}`, which will not be found");
    }

    let seed = (u64::from(rng.random()) << 32) | u64::from(rng.random());
    let (stack, runner) = common::dhcp_stack(Interface::station(), seed);
    match wifi_task(controller) {
        Ok(wifi) => spawner.spawn(wifi),
        Err(_) => panic!("wifi task not spawned"),
    }
    common::spawn_network(spawner, net_task(runner), stack);

    let nvm = parameter_store(FlashStorage::new(p.FLASH));
    let device = DeviceConfig::from_build_env(HARDWARE_VERSION, common::UNCONFIGURED_GATEWAY_HOST);
    common::run(device, stack, rng, nvm, EspPlatform).await;
}

#[embassy_executor::task]
async fn net_task(mut runner: Runner<'static, Interface>) -> ! {
    runner.run().await
}

/// Joins the network, and joins again whenever the association is lost.
#[embassy_executor::task]
async fn wifi_task(mut controller: WifiController<'static>) -> ! {
    loop {
        match controller.connect_async().await {
            Ok(_) => {
                info!("wifi: joined `{SSID}`");
                let _ = controller.wait_for_disconnect_async().await;
                info!("wifi: association lost");
            }
            Err(e) => info!("wifi: joining `{SSID}` failed ({e:?})"),
        }
        Timer::after(REJOIN_DELAY).await;
    }
}

/// The parameters' home: the `nvs` partition if the partition table has one, else RAM.
fn parameter_store(mut flash: FlashStorage<'static>) -> ParamStore {
    let mut table = [0u8; partitions::PARTITION_TABLE_MAX_LEN];
    let nvs = partitions::read_partition_table(&mut flash, &mut table)
        .ok()
        .and_then(|t| {
            t.find_partition(PartitionType::Data(DataPartitionSubType::Nvs))
                .ok()
                .flatten()
        })
        .map(|entry| (entry.offset(), entry.len()));
    match nvs {
        Some((offset, len)) if len >= FlashStorage::SECTOR_SIZE => {
            info!("params: flash partition nvs at {offset:#x}, {len} bytes");
            ParamStore::Flash(NorNvm::new(flash, offset, len / FlashStorage::SECTOR_SIZE))
        }
        _ => {
            info!("params: no nvs partition, parameters kept in RAM only");
            static AREA: StaticCell<[u8; RECORD_CAPACITY]> = StaticCell::new();
            ParamStore::Ram(RamNvm::new(AREA.init([0; RECORD_CAPACITY])))
        }
    }
}

/// Flash when the partition table allows, RAM otherwise.
enum ParamStore {
    Flash(NorNvm<FlashStorage<'static>>),
    Ram(RamNvm<'static>),
}

impl Nvm for ParamStore {
    async fn read(&mut self, buf: &mut [u8]) -> usize {
        match self {
            ParamStore::Flash(nvm) => nvm.read(buf).await,
            ParamStore::Ram(nvm) => nvm.read(buf).await,
        }
    }

    async fn write(&mut self, record: &[u8]) -> Result<(), NvmError> {
        match self {
            ParamStore::Flash(nvm) => nvm.write(record).await,
            ParamStore::Ram(nvm) => nvm.write(record).await,
        }
    }
}

/// The board's hooks for the application.
struct EspPlatform;

impl Platform for EspPlatform {
    fn unix_time(&mut self) -> Option<i64> {
        None
    }

    fn reset(&mut self) -> ! {
        info!("board: reset");
        esp_hal::system::software_reset()
    }

    fn power_off(&mut self) -> ! {
        // A development board cannot switch its own supply off: the application stops here,
        // until reset (the radio's own threads go on).
        info!("board: power off (halted)");
        loop {
            core::hint::spin_loop();
        }
    }

    fn alarm(&mut self, level: u8, message: &[u8]) {
        info!("board: ALARM level {level}: {}", tbox_firmware::log::Ascii(message));
    }
}
