//! ST Nucleo-144 boards with Ethernet: NUCLEO-F767ZI (feature `nucleo-f767zi`) and
//! NUCLEO-H743ZI (`nucleo-h743zi`). **Build-checked only**: this code has not run on a board.
//!
//! * Clocks: F767 at 216 MHz from the ST-LINK's 8 MHz clock (HSE bypass), PLL Q at 48 MHz for
//!   the RNG; H743 at 400 MHz from the HSI, HSI48 for the RNG.
//! * Time: embassy-stm32's time driver on a general-purpose timer, 32 768 ticks a second.
//! * Network: the on-board LAN8742A PHY over RMII (REF_CLK PA1, CRS_DV PA7, RXD0 PC4, RXD1
//!   PC5, TXD0 PG13, TXD1 PB13, TX_EN PG11, MDIO PA2, MDC PC1), embassy-stm32's `GenericPhy`,
//!   DHCP. The MAC address is locally administered, derived from the chip's unique ID.
//! * Entropy: the RNG peripheral (rand_core 0.6 `CryptoRng`) keys TLS and seeds the stack.
//! * Parameters: the last two flash sectors ([`tbox_firmware::params::nor`]; erasing a sector
//!   stalls the CPU for about a second, once per few hundred parameter changes). Reissue
//!   store: RAM.
//! * Logging: the firmware's lines as defmt frames over RTT (`probe-rs run`); panics through
//!   panic-probe.
//! * Wall clock: none kept (the RTC has no battery on a Nucleo): frame times start with the
//!   platform's time calibration. Alarm (control 0x06): the red LED LD3 (PB14).

use defmt_rtt as _;
use panic_probe as _;

use embassy_executor::Spawner;
use embassy_net::Runner;
use embassy_stm32::bind_interrupts;
use embassy_stm32::eth::{self, Ethernet, GenericPhy, PacketQueue, Sma};
use embassy_stm32::flash::{Blocking, Flash};
use embassy_stm32::gpio::{Level, Output, Speed};
use embassy_stm32::peripherals::{ETH, ETH_SMA, RNG};
use embassy_stm32::rng::{self, Rng};
use static_cell::ConstStaticCell;
use tbox_firmware::app::Platform;
use tbox_firmware::config::DeviceConfig;
use tbox_firmware::info;
use tbox_firmware::params::nor::NorNvm;

use super::common;

#[cfg(feature = "nucleo-f767zi")]
mod chip {
    pub const NAME: &str = "nucleo-f767zi";
    pub const HARDWARE_VERSION: [u8; 5] = *b"F767Z";
    /// Sectors 10 and 11 (256 KiB each), left out of FLASH in `memory-f767zi.x`.
    pub const NVM_OFFSET: u32 = 0x18_0000;
}

#[cfg(feature = "nucleo-h743zi")]
mod chip {
    pub const NAME: &str = "nucleo-h743zi";
    pub const HARDWARE_VERSION: [u8; 5] = *b"H743Z";
    /// Sectors 6 and 7 of bank 2 (128 KiB each), left out of FLASH in `memory-h743zi.x`.
    pub const NVM_OFFSET: u32 = 0x1C_0000;
}

/// Erase blocks for the parameters: two, so that the newest record is never erased before a
/// newer one is stored.
const NVM_BLOCKS: u32 = 2;
// The area is the end of the flash, in whole sectors of the largest size.
const _: () = assert!(
    (chip::NVM_OFFSET as usize).is_multiple_of(embassy_stm32::flash::MAX_ERASE_SIZE)
        && chip::NVM_OFFSET as usize + NVM_BLOCKS as usize * embassy_stm32::flash::MAX_ERASE_SIZE
            == embassy_stm32::flash::FLASH_SIZE
);

bind_interrupts!(struct Irqs {
    ETH => eth::InterruptHandler;
    RNG => rng::InterruptHandler<RNG>;
});

type Device = Ethernet<'static, ETH, GenericPhy<Sma<'static, ETH_SMA>>>;

fn log_sink(args: core::fmt::Arguments<'_>) {
    // `println` is never filtered out by DEFMT_LOG; the line carries its own uptime prefix.
    defmt::println!("{}", defmt::Display2Format(&args));
}

#[embassy_executor::main]
async fn main(spawner: Spawner) {
    tbox_firmware::log::set_sink(log_sink);
    let p = embassy_stm32::init(clocks());
    info!("boot: tbox-firmware {} on {}", env!("CARGO_PKG_VERSION"), chip::NAME);

    let mut rng = Rng::new(p.RNG, Irqs);
    let mac = mac_address();
    info!(
        "net: mac {:02x}:{:02x}:{:02x}:{:02x}:{:02x}:{:02x}",
        mac[0], mac[1], mac[2], mac[3], mac[4], mac[5]
    );
    static PACKETS: ConstStaticCell<PacketQueue<4, 4>> = ConstStaticCell::new(PacketQueue::new());
    let nic: Device = Ethernet::new(
        PACKETS.take(),
        p.ETH,
        Irqs,
        p.PA1,
        p.PA7,
        p.PC4,
        p.PC5,
        p.PG13,
        p.PB13,
        p.PG11,
        mac,
        p.ETH_SMA,
        p.PA2,
        p.PC1,
    );
    let (stack, runner) = common::dhcp_stack(nic, rng.next_u64());
    common::spawn_network(spawner, net_task(runner), stack);

    let nvm = NorNvm::new(Flash::<Blocking>::new_blocking(p.FLASH), chip::NVM_OFFSET, NVM_BLOCKS);
    let device = DeviceConfig::from_build_env(chip::HARDWARE_VERSION, common::UNCONFIGURED_GATEWAY_HOST);
    let platform = Nucleo {
        alarm_led: Output::new(p.PB14, Level::Low, Speed::Low),
    };
    common::run(device, stack, rng, nvm, platform).await;
}

/// The clock tree: 216 MHz core, AHB 216, APB1 54, APB2 108; PLL Q 48 MHz for the RNG.
#[cfg(feature = "nucleo-f767zi")]
fn clocks() -> embassy_stm32::Config {
    use embassy_stm32::rcc::*;
    use embassy_stm32::time::Hertz;
    let mut config = embassy_stm32::Config::default();
    config.rcc.hse = Some(Hse {
        freq: Hertz(8_000_000),
        mode: HseMode::Bypass,
    });
    config.rcc.pll_src = PllSource::HSE;
    config.rcc.pll = Some(Pll {
        prediv: PllPreDiv::DIV4,
        mul: PllMul::MUL216,
        divp: Some(PllPDiv::DIV2),
        divq: Some(PllQDiv::DIV9),
        divr: None,
    });
    config.rcc.ahb_pre = AHBPrescaler::DIV1;
    config.rcc.apb1_pre = APBPrescaler::DIV4;
    config.rcc.apb2_pre = APBPrescaler::DIV2;
    config.rcc.sys = Sysclk::PLL1_P;
    config.rcc.mux.clk48sel = mux::Clk48sel::PLL1_Q;
    config
}

/// The clock tree: 400 MHz core from the HSI, AHB 200, APB1-4 100; HSI48 for the RNG.
#[cfg(feature = "nucleo-h743zi")]
fn clocks() -> embassy_stm32::Config {
    use embassy_stm32::rcc::*;
    let mut config = embassy_stm32::Config::default();
    config.rcc.hsi = Some(HSIPrescaler::DIV1);
    config.rcc.csi = true;
    config.rcc.hsi48 = Some(Default::default());
    config.rcc.pll1 = Some(Pll {
        source: PllSource::HSI,
        prediv: PllPreDiv::DIV4,
        mul: PllMul::MUL50,
        fracn: None,
        divp: Some(PllDiv::DIV2),
        divq: None,
        divr: None,
    });
    config.rcc.sys = Sysclk::PLL1_P;
    config.rcc.ahb_pre = AHBPrescaler::DIV2;
    config.rcc.apb1_pre = APBPrescaler::DIV2;
    config.rcc.apb2_pre = APBPrescaler::DIV2;
    config.rcc.apb3_pre = APBPrescaler::DIV2;
    config.rcc.apb4_pre = APBPrescaler::DIV2;
    config.rcc.voltage_scale = VoltageScale::Scale1;
    config.rcc.mux.rngsel = mux::Rngsel::HSI48;
    config
}

/// A locally administered unicast MAC, the same on every boot: the 96-bit unique ID folded
/// into the last five bytes.
fn mac_address() -> [u8; 6] {
    let mut mac = [0x02, 0, 0, 0, 0, 0];
    for (i, b) in embassy_stm32::uid::uid().iter().enumerate() {
        mac[1 + i % 5] ^= b;
    }
    mac
}

#[embassy_executor::task]
async fn net_task(mut runner: Runner<'static, Device>) -> ! {
    runner.run().await
}

/// The board's hooks for the application.
struct Nucleo {
    alarm_led: Output<'static>,
}

impl Platform for Nucleo {
    fn unix_time(&mut self) -> Option<i64> {
        None
    }

    fn reset(&mut self) -> ! {
        info!("board: reset");
        cortex_m::peripheral::SCB::sys_reset()
    }

    fn power_off(&mut self) -> ! {
        // A Nucleo cannot switch its own supply off: stop, until the reset button.
        info!("board: power off (halted)");
        cortex_m::interrupt::disable();
        loop {
            cortex_m::asm::wfi();
        }
    }

    fn alarm(&mut self, level: u8, message: &[u8]) {
        info!("board: ALARM level {level}: {}", tbox_firmware::log::Ascii(message));
        self.alarm_led
            .set_level(if level > 0 { Level::High } else { Level::Low });
    }
}
