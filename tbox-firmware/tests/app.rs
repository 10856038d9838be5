//! The application (`App`, the embassy driver of the T-Box machine) against the core's platform
//! session over in-memory links, on embassy-time's mock clock: sampling and reporting, a
//! parameter set that is persisted, the disconnect command and its hold, reissue after a link
//! the platform cut, and a shutdown that logs out before powering off. One test, because the
//! mock clock is global to the test binary.

use std::cell::{Cell, RefCell};
use std::collections::{BTreeMap, VecDeque};
use std::future::{poll_fn, Future};
use std::panic::{self, AssertUnwindSafe};
use std::pin::pin;
use std::rc::Rc;
use std::task::{Context, Poll, Waker};

use embassy_futures::select::select;
use embassy_time::{Duration, MockDriver, Timer};
use embedded_io_async::{ErrorType, Read, Write};
use gb32960_core::frame::{Deframer, Event};
use gb32960_core::message::Body;
use gb32960_core::realtime::v2016::{self, InfoBlock};
use gb32960_core::session::platform::{PlatformConfig, PlatformEvent, PlatformSession};
use gb32960_core::session::Millis;
use gb32960_core::{Command, ResponseFlag, Time};
use tbox_firmware::app::{App, Platform};
use tbox_firmware::boot::RamStore;
use tbox_firmware::config::DeviceConfig;
use tbox_firmware::params::{self, Nvm, NvmError};
use tbox_firmware::transport::{ConnectError, Endpoint, LinkEnd, Session, Transport};
use tbox_firmware::vehicle::SimulatedVehicle;

/// 2024-05-20 08:00:00 GMT+8, the wall clock at boot.
const BOOT_UNIX: i64 = 1_716_163_200;

/// One connection: bytes each way, and who closed it.
#[derive(Default)]
struct Wire {
    up: RefCell<VecDeque<u8>>,
    down: RefCell<VecDeque<u8>>,
    app_closed: Cell<bool>,
    platform_closed: Cell<bool>,
}

/// The "network": the current connection, and whether connections are refused (gateway down).
#[derive(Default)]
struct Net {
    current: RefCell<Option<Rc<Wire>>>,
    connects: Cell<u32>,
    refuse: Cell<bool>,
}

struct MemTransport(Rc<Net>);

struct WireReader(Rc<Wire>);
struct WireWriter(Rc<Wire>);

impl ErrorType for WireReader {
    type Error = embedded_io_async::ErrorKind;
}
impl ErrorType for WireWriter {
    type Error = embedded_io_async::ErrorKind;
}

impl Read for WireReader {
    async fn read(&mut self, buf: &mut [u8]) -> Result<usize, Self::Error> {
        poll_fn(|_| {
            let mut down = self.0.down.borrow_mut();
            if !down.is_empty() {
                let n = buf.len().min(down.len());
                for (b, d) in buf.iter_mut().zip(down.drain(..n)) {
                    *b = d;
                }
                Poll::Ready(Ok(n))
            } else if self.0.platform_closed.get() {
                Poll::Ready(Ok(0))
            } else {
                Poll::Pending
            }
        })
        .await
    }
}

impl Write for WireWriter {
    async fn write(&mut self, buf: &[u8]) -> Result<usize, Self::Error> {
        if self.0.platform_closed.get() {
            return Err(embedded_io_async::ErrorKind::ConnectionReset);
        }
        self.0.up.borrow_mut().extend(buf);
        Ok(buf.len())
    }

    async fn flush(&mut self) -> Result<(), Self::Error> {
        Ok(())
    }
}

impl Transport for MemTransport {
    async fn run_session<S: Session>(&mut self, _to: &Endpoint<'_>, session: &mut S) -> Result<LinkEnd, ConnectError> {
        if self.0.refuse.get() {
            return Err(ConnectError::Tcp);
        }
        let wire = Rc::new(Wire::default());
        *self.0.current.borrow_mut() = Some(Rc::clone(&wire));
        self.0.connects.set(self.0.connects.get() + 1);
        let end = session
            .run(WireReader(Rc::clone(&wire)), WireWriter(Rc::clone(&wire)))
            .await;
        wire.app_closed.set(true);
        Ok(end)
    }
}

/// Parameter memory the test can read while the application holds it.
struct SharedNvm(Rc<RefCell<Vec<u8>>>);

impl Nvm for SharedNvm {
    async fn read(&mut self, buf: &mut [u8]) -> usize {
        let area = self.0.borrow();
        let n = buf.len().min(area.len());
        buf[..n].copy_from_slice(&area[..n]);
        n
    }
    async fn write(&mut self, record: &[u8]) -> Result<(), NvmError> {
        *self.0.borrow_mut() = record.to_vec();
        Ok(())
    }
}

/// The panic payload of the test board's power-off.
struct PoweredOff;

struct TestPlatform;

impl Platform for TestPlatform {
    fn unix_time(&mut self) -> Option<i64> {
        Some(BOOT_UNIX)
    }
    fn reset(&mut self) -> ! {
        panic!("unexpected reset")
    }
    fn power_off(&mut self) -> ! {
        panic::panic_any(PoweredOff)
    }
}

/// The platform side: the core's session on the current connection, and what it saw.
#[derive(Default)]
struct Gateway {
    session: Option<PlatformSession>,
    wire: Option<Rc<Wire>>,
    deframer: Deframer<4096>,
    /// Sample index (from the odometer) → commands it arrived with.
    reports: BTreeMap<u32, Vec<Command>>,
    logins: u32,
    logouts: u32,
    answers: Vec<(u32, ResponseFlag)>,
}

fn now() -> Millis {
    embassy_time::Instant::now().as_millis()
}

fn sample_index(frame: &[u8]) -> Option<u32> {
    let parsed = gb32960_core::Frame::parse(frame).ok()?;
    let Body::Realtime(report) = parsed.body else {
        return None;
    };
    let InfoBlock::Vehicle(v) = report.iter().next()? else {
        return None;
    };
    Some(v2016::vehicle::field::ODOMETER.raw(&v.0) - 100_000)
}

impl Gateway {
    /// Moves bytes both ways and lets the session decide.
    fn pump(&mut self, net: &Net) {
        let now = now();
        let unix = BOOT_UNIX + (now / 1000) as i64;
        let current = net.current.borrow().clone();
        let fresh = match (&current, &self.wire) {
            (Some(c), Some(w)) => !Rc::ptr_eq(c, w),
            (Some(_), None) => true,
            _ => false,
        };
        if fresh {
            self.wire = current;
            self.session = Some(PlatformSession::new(PlatformConfig::default(), now));
            self.deframer.reset();
        }
        let (Some(wire), Some(session)) = (self.wire.clone(), self.session.as_mut()) else {
            return;
        };
        let bytes: Vec<u8> = wire.up.borrow_mut().drain(..).collect();
        let mut input = &bytes[..];
        while !input.is_empty() {
            let n = self.deframer.feed(input);
            input = &input[n..];
            while let Some(event) = self.deframer.poll() {
                let Event::Frame { bytes, .. } = event else { continue };
                session.handle_frame(now, unix, bytes);
                while let Some(e) = session.poll_event() {
                    match e {
                        PlatformEvent::LoginRequest { .. } => {
                            session.accept_login(now, unix);
                            self.logins += 1;
                        }
                        PlatformEvent::Report { command, .. } => {
                            let k = sample_index(bytes).expect("a report of the simulated vehicle");
                            self.reports.entry(k).or_default().push(command);
                        }
                        PlatformEvent::DownlinkAnswered { id, flag, .. } => self.answers.push((id, flag)),
                        PlatformEvent::LoggedOut { .. } => self.logouts += 1,
                        PlatformEvent::Close { .. } => wire.platform_closed.set(true),
                        _ => {}
                    }
                }
            }
        }
        if session.poll_timeout().is_some_and(|t| t <= now) {
            session.handle_timeout(now);
        }
        let mut buf = [0u8; 1024];
        while let Some(n) = session.poll_transmit(now, &mut buf) {
            wire.down.borrow_mut().extend(&buf[..n]);
        }
    }

    fn downlink(&mut self, command: Command, tail: &[u8]) -> u32 {
        let unix = BOOT_UNIX + (now() / 1000) as i64;
        let mut data = Time::from_unix(unix).unwrap().0.to_vec();
        data.extend_from_slice(tail);
        let session = self.session.as_mut().expect("a link");
        let vin = session.vin().expect("logged in");
        session.queue_downlink(now(), vin, command, &data).unwrap()
    }

    /// Downlink `id` was answered with success.
    fn answered(&self, id: u32) -> bool {
        self.answers.contains(&(id, ResponseFlag::SUCCESS))
    }

    /// Samples 0..=max all arrived.
    fn complete(&self) -> bool {
        self.reports.keys().copied().eq(0..self.reports.len() as u32)
    }
}

/// Steps the platform each millisecond until `done` holds; false after `limit_ms`.
async fn until(gw: &RefCell<Gateway>, net: &Net, limit_ms: u64, mut done: impl FnMut(&Gateway, &Net) -> bool) -> bool {
    for _ in 0..limit_ms {
        gw.borrow_mut().pump(net);
        if done(&gw.borrow(), net) {
            return true;
        }
        Timer::after(Duration::from_millis(1)).await;
    }
    false
}

/// Polls `fut` to completion, advancing the mock clock a millisecond whenever nothing is ready.
fn run_to_end<F: Future>(fut: F, limit_ms: u64) -> Option<F::Output> {
    let mut cx = Context::from_waker(Waker::noop());
    let mut fut = pin!(fut);
    for _ in 0..limit_ms {
        for _ in 0..4 {
            if let Poll::Ready(v) = fut.as_mut().poll(&mut cx) {
                return Some(v);
            }
        }
        MockDriver::get().advance(Duration::from_millis(1));
    }
    None
}

#[test]
fn the_application_against_the_platform_session() {
    MockDriver::get().reset();
    let net = Rc::new(Net::default());
    let gw = Rc::new(RefCell::new(Gateway::default()));
    let nvm_area = Rc::new(RefCell::new(Vec::new()));
    let mut device = DeviceConfig::from_build_env(*b"TEST1", "gateway.test");
    // The 2016 edition also when `--all-features` makes 2025 the build's (its signed reports
    // are tested in `sign.rs` and under QEMU).
    device.edition = gb32960_core::Edition::V2016;
    device.report_period_s = 5;
    let app = App::new(
        device.clone(),
        device.factory_params(),
        RamStore::new(),
        SimulatedVehicle::new(),
        TestPlatform,
    );
    let mut transport = MemTransport(Rc::clone(&net));
    let mut nvm = SharedNvm(Rc::clone(&nvm_area));

    let script = async {
        // Login, then reports 0..=3 (sample 0 was taken offline at boot and is reissued).
        assert!(
            until(&gw, &net, 60_000, |g, _| g.logins == 1
                && g.reports.len() >= 4
                && g.complete())
            .await
        );

        // A parameter set: answered, persisted.
        let id = gw.borrow_mut().downlink(Command::PARAM_SET, &[1, 0x02, 0x00, 0x02]);
        assert!(until(&gw, &net, 10_000, |g, _| g.answered(id)).await);
        assert!(
            until(&gw, &net, 1_000, |_, _| params::decode(&nvm_area.borrow())
                .is_some_and(|p| p.report_period_s == 2))
            .await,
            "the new period was not saved"
        );

        // Disconnect: answered, the vehicle hangs up, stays off 10 s, comes back.
        let id = gw.borrow_mut().downlink(Command::TERMINAL_CONTROL, &[0x05]);
        assert!(until(&gw, &net, 10_000, |g, _| g.answered(id)).await);
        assert!(
            until(&gw, &net, 5_000, |g, _| g
                .wire
                .as_ref()
                .is_some_and(|w| w.app_closed.get()))
            .await
        );
        let hung_up = now();
        assert!(until(&gw, &net, 30_000, |g, n| n.connects.get() == 2 && g.logins == 2).await);
        // The hang-up is seen at the platform's next step, so allow that step.
        assert!(now() - hung_up >= 9_990, "reconnected after {} ms", now() - hung_up);

        // The platform cuts the link and stays unreachable for 30 s: reports are stored, then
        // reissued; every sample arrives.
        let cut = *gw.borrow().reports.keys().last().unwrap();
        gw.borrow().wire.as_ref().unwrap().platform_closed.set(true);
        net.refuse.set(true);
        Timer::after(Duration::from_secs(30)).await;
        net.refuse.set(false);
        assert!(
            until(&gw, &net, 120_000, |g, _| g.logins == 3
                && g.complete()
                && g.reports
                    .iter()
                    .filter(|(k, c)| **k > cut && c.contains(&Command::REISSUE))
                    .count()
                    >= 10)
            .await
        );
        // A report is sent live once; one whose arrival was not yet proven when a link ended
        // is reissued, and may so arrive twice (the gateway's store keeps one: VIN, time,
        // digest). Never more often than there were links.
        for (k, commands) in gw.borrow().reports.iter() {
            let live = commands.iter().filter(|c| **c == Command::REALTIME).count();
            assert!(live <= 1 && commands.len() <= 3, "sample {k} arrived as {commands:?}");
        }

        // Shutdown: answered, logged out, powered off.
        gw.borrow_mut().downlink(Command::TERMINAL_CONTROL, &[0x02]);
        until(&gw, &net, 30_000, |_, _| false).await;
    };

    // The power-off is a panic here: keep it out of the test's output, report any other.
    let default_hook = panic::take_hook();
    panic::set_hook(Box::new(move |info| {
        if !info.payload().is::<PoweredOff>() {
            default_hook(info);
        }
    }));
    let outcome = panic::catch_unwind(AssertUnwindSafe(|| {
        run_to_end(select(app.run(&mut transport, &mut nvm), script), 400_000)
    }));
    match outcome {
        Err(payload) if payload.is::<PoweredOff>() => {}
        Err(payload) => panic::resume_unwind(payload),
        Ok(_) => panic!("the shutdown command did not power the T-Box off"),
    }
    // What the vehicle wrote before powering off: the answer and the logout.
    gw.borrow_mut().pump(&net);
    assert_eq!(gw.borrow().logouts, 1, "no logout before the power-off");
}
