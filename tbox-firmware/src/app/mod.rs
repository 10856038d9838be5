//! The application: the embassy driver of the core's T-Box machine.
//!
//! Two loops run side by side for the whole life of the firmware ([`App::run`]):
//!
//! * the **service loop** (here): runs the machine's timers, handles its events (samples the
//!   vehicle when a report falls due, persists changed parameters, obeys control commands) and
//!   tells the writer when there is something to send. It runs whether or not a link is up, so
//!   reports keep being sampled (and stored for reissue) while offline;
//! * the **connection loop** (`link`): connects to the endpoint in parameters 0x05/0x06,
//!   runs a session (a reader feeding frames to the machine, a writer draining what it wants
//!   to send), and reconnects with a back-off after the link ends.
//!
//! Every protocol rule (login retries, heartbeats, reissue pacing, answers) is the machine's;
//! this module only decides *connectivity* (when to dial, when to hang up) and *device actions*
//! (sampling, storage, reset, power-off). State shared by the loops sits in one `RefCell`,
//! borrowed only between awaits.

mod link;

use core::cell::RefCell;

use embassy_futures::join::join;
use embassy_futures::select::select;
use embassy_sync::blocking_mutex::raw::NoopRawMutex;
use embassy_sync::signal::Signal;
use embassy_time::{Instant, Timer};
use gb32960_core::message::{ControlCommand, TerminalControl};
use gb32960_core::session::params::Parameters;
use gb32960_core::session::reissue::ReissueStore;
use gb32960_core::session::tbox::{Tbox, TboxEvent};
use gb32960_core::session::Millis;
use gb32960_core::Time;

use crate::config::DeviceConfig;
use crate::info;
use crate::params::{self, Nvm};
use crate::transport::Transport;
use crate::vehicle::VehicleSource;

/// Largest report data unit the machine keeps (the simulated vehicle's is about 80 bytes).
pub const REPORT_SLOT: usize = 192;
/// Reports sent and not yet known to have arrived.
pub const PENDING: usize = 8;
/// The machine as the firmware runs it.
pub type FirmwareTbox<S> = Tbox<S, REPORT_SLOT, PENDING>;

/// What the application asks of the board beyond networking and storage.
pub trait Platform {
    /// Unix seconds now, if the board has a clock it trusts (RTC, GNSS). Without one, frame
    /// times wait for the platform's time calibration after the first login.
    fn unix_time(&mut self) -> Option<i64>;
    /// Reboots (control 0x03), after the answer and the logout have been sent.
    fn reset(&mut self) -> !;
    /// Switches off (control 0x02), after the answer and the logout have been sent.
    fn power_off(&mut self) -> !;
    /// Shows a platform warning to the driver (control 0x06; level 0-3).
    fn alarm(&mut self, level: u8, message: &[u8]) {
        let _ = (level, message);
    }
}

/// A platform domain as parameter 0x05 holds it.
type Domain = heapless::Vec<u8, { gb32960_core::session::params::DOMAIN_CAPACITY }>;

/// A device action that ends the firmware's run once the link is closed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Power {
    Reset,
    Off,
}

/// What a control command leaves to do once the machine is no longer borrowed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Order {
    /// Control 0x05: hang up (and stay off a while).
    HangUp,
    /// Control 0x02 / 0x03: log out, then power off or reset.
    LogOutAnd(Power),
}

/// State both loops use.
struct Shared<V, S: ReissueStore, P> {
    tbox: FirmwareTbox<S>,
    vehicle: V,
    platform: P,
    /// The writer ends the session once it has flushed what was queued.
    hang_up: bool,
    /// Why the application hung up (decides the reconnect delay).
    hang_up_reason: HangUp,
    /// Run after the link is closed.
    power: Option<Power>,
    /// The endpoint of the current link (parameters 0x05/0x06 when it was opened).
    link_endpoint: Option<(Domain, u16)>,
    /// An accepted login on the current link.
    logged_in_on_link: bool,
    first_login_at: Option<Millis>,
    /// 2025: the device's SM2 key (`None`: no key was built in, nothing is signed).
    #[cfg(feature = "edition-2025")]
    signing: Option<crate::sign::Signing>,
    /// 2025: the platform accepted our activation (sent on every connection until it does).
    #[cfg(feature = "edition-2025")]
    activated: bool,
}

/// Why the application ended a session.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum HangUp {
    None,
    /// Control 0x05.
    Commanded,
    /// Heartbeats unanswered, login back-off, a new endpoint.
    Protocol,
}

/// The application; the board keeps it in a `static` and calls [`App::run`].
pub struct App<V, S: ReissueStore, P> {
    device: DeviceConfig,
    shared: RefCell<Shared<V, S, P>>,
    /// Service loop → writer: frames may be waiting, or it is time to hang up.
    tx_ready: Signal<NoopRawMutex, ()>,
    /// Reader / connection loop → service loop: the machine has events.
    kick: Signal<NoopRawMutex, ()>,
}

/// Monotonic milliseconds since boot: the machine's clock.
pub fn now_ms() -> Millis {
    Instant::now().as_millis()
}

impl<V: VehicleSource, S: ReissueStore, P: Platform> App<V, S, P> {
    /// The application with its parameters (from [`params::load`], or the factory ones), the
    /// reissue store, the vehicle and the board's hooks.
    pub fn new(device: DeviceConfig, mut params: Parameters, store: S, vehicle: V, mut platform: P) -> Self {
        let now = now_ms();
        // The running firmware decides the read-only version parameters.
        params.firmware_version = crate::config::FIRMWARE_VERSION;
        params.hardware_version = device.hardware_version;
        let mut tbox = FirmwareTbox::new(device.tbox_config(), params, store, now);
        if let Some(unix) = platform.unix_time() {
            tbox.set_wall_clock(unix, now);
            crate::clock::set(unix, now);
        }
        #[cfg(feature = "edition-2025")]
        let signing = crate::sign::Signing::new(&device);
        #[cfg(feature = "edition-2025")]
        if device.edition == gb32960_core::Edition::V2025 && signing.is_none() {
            info!("sign: no SM2 key (TBOX_SM2_KEY): reports cannot be signed");
        }
        App {
            device,
            shared: RefCell::new(Shared {
                tbox,
                vehicle,
                platform,
                hang_up: false,
                hang_up_reason: HangUp::None,
                power: None,
                link_endpoint: None,
                logged_in_on_link: false,
                first_login_at: None,
                #[cfg(feature = "edition-2025")]
                signing,
                #[cfg(feature = "edition-2025")]
                activated: false,
            }),
            tx_ready: Signal::new(),
            kick: Signal::new(),
        }
    }

    /// Runs the T-Box forever: the service loop and the connection loop.
    pub async fn run<T: Transport, N: Nvm>(&self, transport: &mut T, nvm: &mut N) -> ! {
        info!(
            "app: vin {} period {} s heartbeat {} s",
            crate::log::Ascii(self.device.vin.trimmed()),
            self.with(|s| s.tbox.params().report_period_s),
            self.with(|s| s.tbox.params().heartbeat_period_s),
        );
        join(self.service(nvm), self.connections(transport)).await;
        unreachable!("both loops run forever")
    }

    fn with<R>(&self, f: impl FnOnce(&mut Shared<V, S, P>) -> R) -> R {
        f(&mut self.shared.borrow_mut())
    }

    /// Timers and events, online or not.
    async fn service<N: Nvm>(&self, nvm: &mut N) {
        loop {
            let now = now_ms();
            self.with(|s| s.tbox.handle_timeout(now));
            // Events are handled synchronously (they are large: none is kept in this future);
            // only saving parameters waits.
            let mut persist = false;
            while let Some(event) = self.with(|s| s.tbox.poll_event()) {
                persist |= self.on_event(event);
            }
            if persist {
                self.persist(nvm).await;
            }
            self.tx_ready.signal(());
            let wake = self.with(|s| s.tbox.poll_timeout()).unwrap_or(Millis::MAX);
            let wake = Instant::from_millis(wake.min(now_ms() + 3_600_000));
            select(self.kick.wait(), Timer::at(wake)).await;
        }
    }

    /// Handles one event; true when the parameters must be saved.
    fn on_event(&self, event: TboxEvent) -> bool {
        let now = now_ms();
        match event {
            TboxEvent::ReportDue { .. } => self.sample(now),
            TboxEvent::LoggedIn { serial } => {
                let first = self.with(|s| {
                    s.logged_in_on_link = true;
                    let first = s.first_login_at.is_none();
                    if first {
                        s.first_login_at = Some(now);
                    }
                    first
                });
                info!("login: acknowledged (serial {serial})");
                if first {
                    info!("login: first acknowledged login {now} ms after boot");
                }
            }
            TboxEvent::LoginFailed { attempt, flag } => {
                let flag = flag.map_or(-1, |f| i32::from(f.0));
                info!("login: attempt {attempt} failed (answer flag {flag})");
            }
            TboxEvent::LoginBackoff { until } => {
                info!("login: three failures, next login at {until} ms");
                self.hang_up(HangUp::Protocol);
            }
            TboxEvent::LoggedOut { serial } => info!("logout: sent (serial {serial})"),
            TboxEvent::ReportLost { total } => info!("store: full, oldest report dropped ({total} lost)"),
            TboxEvent::ReportRejected { .. } => info!("report: refused three times, dropped"),
            TboxEvent::ParametersChanged => return true,
            TboxEvent::Control => self.control(now),
            TboxEvent::TimeCalibrated { time } => {
                let unix = time.to_unix().unwrap_or(0);
                crate::clock::set(unix, now);
                info!("time: calibrated by the platform to {unix}");
            }
            TboxEvent::ConnectionLost => {
                info!("link: heartbeats unanswered, hanging up");
                self.hang_up(HangUp::Protocol);
            }
            TboxEvent::BadFrame { error } => info!("frame: unusable ({})", error),
            TboxEvent::Activation { status, info } => {
                info!("activation: answered (status {status}, info {info})");
                #[cfg(feature = "edition-2025")]
                if status == 1 {
                    self.with(|s| s.activated = true);
                }
            }
            TboxEvent::KeyExchange => info!("key exchange: not supported"),
        }
        false
    }

    /// A report fell due: sample the vehicle and hand the data unit to the machine.
    fn sample(&self, now: Millis) {
        let edition = self.device.edition;
        self.with(|s| {
            let Some(unix) = s.tbox.unix(now) else {
                info!("report: no wall clock yet, sample skipped");
                return;
            };
            let time = Time::from_unix(unix).unwrap_or_default();
            let mut data = [0u8; REPORT_SLOT];
            let online = s.tbox.is_logged_in();
            let alarm = s.vehicle.alarm_active();
            s.tbox.set_alarm(alarm, now);
            let data = match s.vehicle.report(edition, time, &mut data) {
                Ok(n) => Ok(&data[..n]),
                Err(e) => Err(e),
            };
            // 2025: signed now, so that a reissue later carries the signature made at sampling.
            #[cfg(feature = "edition-2025")]
            let mut frame = [0u8; crate::sign::SIGNED_FRAME];
            #[cfg(feature = "edition-2025")]
            let data = match (data, edition, s.signing.as_mut()) {
                (Ok(unsigned), gb32960_core::Edition::V2025, Some(signing)) => {
                    match signing.sign_report(unsigned, &mut frame) {
                        Ok(range) => Ok(&frame[range]),
                        Err(e) => {
                            info!("report: not signed ({})", e.kind());
                            return;
                        }
                    }
                }
                (Ok(_), gb32960_core::Edition::V2025, None) => {
                    info!("report: not signed (no key), dropped");
                    return;
                }
                (data, _, _) => data,
            };
            match data {
                Ok(data) => match s.tbox.submit_report(now, data) {
                    Ok(()) if online => info!("report: sampled, sending"),
                    Ok(()) => info!("report: sampled, stored ({} held)", s.tbox.stored()),
                    Err(e) => info!("report: not accepted ({})", e),
                },
                Err(e) => info!("report: not encoded ({})", e),
            }
        });
    }

    /// 2025, on every new link until the platform has accepted it: queues a signed activation
    /// (0x09) with our public key. It goes out before the login is answered, hence before any
    /// report, so the platform has the key before the first signed report arrives.
    #[cfg(feature = "edition-2025")]
    fn activate(&self, now: Millis) {
        if self.device.edition != gb32960_core::Edition::V2025 {
            return;
        }
        self.with(|s| {
            if s.activated {
                return;
            }
            let Some(signing) = s.signing.as_mut() else { return };
            let unix = s.tbox.unix(now).unwrap_or(0);
            let time = Time::from_unix(unix).unwrap_or_default();
            let mut frame = [0u8; crate::sign::SIGNED_FRAME];
            let queued = signing
                .activation(time, &mut frame)
                .map_err(|e| e.kind())
                .and_then(|range| {
                    s.tbox
                        .send_raw(gb32960_core::Command::ACTIVATION, &frame[range])
                        .map_err(|_| "queue full")
                });
            match queued {
                Ok(()) => info!("activation: sent (chip {})", crate::log::Ascii(&self.device.chip_id.0)),
                Err(e) => info!("activation: not sent ({})", e),
            }
        });
    }

    /// Parameters changed (0x81, factory reset): save them, and move to a new endpoint.
    async fn persist<N: Nvm>(&self, nvm: &mut N) {
        let p = self.with(|s| s.tbox.params().clone());
        match params::save(nvm, &p).await {
            Ok(()) => info!(
                "params: saved (report period {} s, heartbeat {} s, platform {}:{})",
                p.report_period_s,
                p.heartbeat_period_s,
                crate::log::Ascii(&p.platform_domain),
                p.platform_port
            ),
            Err(e) => info!(
                "params: not saved ({})",
                if e == params::NvmError::TooLarge {
                    "too large"
                } else {
                    "device error"
                }
            ),
        }
        let moved = self.with(|s| {
            s.link_endpoint
                .as_ref()
                .is_some_and(|(host, port)| *host != p.platform_domain || *port != p.platform_port)
        });
        if moved {
            // 2016 B.3.3: after a change of domain or port the terminal logs in to the new
            // platform.
            info!("params: new platform endpoint, reconnecting");
            self.hang_up(HangUp::Protocol);
        }
    }

    /// A control command, already answered by the machine. Its data unit stays there
    /// ([`Tbox::downlink_data`]): the command is read, and an alarm shown, while the machine is
    /// borrowed; hanging up and logging out follow once it is not.
    fn control(&self, now: Millis) {
        let order = self.with(|s| {
            let Ok(control) = TerminalControl::parse(s.tbox.downlink_data()) else {
                info!("control: unparsable command");
                return None;
            };
            match control.command {
                ControlCommand::Disconnect => {
                    info!("control: disconnect");
                    Some(Order::HangUp)
                }
                ControlCommand::Reset => {
                    info!("control: reset");
                    Some(Order::LogOutAnd(Power::Reset))
                }
                ControlCommand::Shutdown => {
                    info!("control: shutdown");
                    Some(Order::LogOutAnd(Power::Off))
                }
                ControlCommand::FactoryReset => {
                    info!("control: factory reset (parameters restored)");
                    None
                }
                ControlCommand::Alarm { level, message } => {
                    info!("control: alarm level {level}");
                    s.platform.alarm(level, message);
                    None
                }
                ControlCommand::StartSampling => {
                    info!("control: start sampling link (not supported)");
                    None
                }
                ControlCommand::Upgrade(_) => {
                    info!("control: remote upgrade (not supported)");
                    None
                }
                ControlCommand::Other { id, .. } => {
                    info!("control: command {id} ignored");
                    None
                }
            }
        });
        match order {
            Some(Order::HangUp) => self.hang_up(HangUp::Commanded),
            Some(Order::LogOutAnd(power)) => self.log_out_and(power, now),
            None => {}
        }
    }

    fn hang_up(&self, reason: HangUp) {
        self.with(|s| {
            s.hang_up = true;
            s.hang_up_reason = reason;
        });
        self.tx_ready.signal(());
    }

    fn log_out_and(&self, power: Power, now: Millis) {
        self.with(|s| {
            s.tbox.logout(now);
            s.power = Some(power);
        });
        self.hang_up(HangUp::Protocol);
    }
}
