//! The connection loop (when to dial, how long to wait) and one link's session (a reader
//! feeding frames to the machine, a writer draining what it wants to send).

use embassy_futures::select::{select, Either};
use embassy_time::{Instant, Timer};
use embedded_io_async::{Read, Write};
use gb32960_core::frame::{Deframer, Event};
use gb32960_core::session::reissue::ReissueStore;

use super::{now_ms, App, HangUp, Platform, Power};
use crate::info;
use crate::log::Ascii;
use crate::transport::{ConnectError, Endpoint, LinkEnd, Session, Transport};
use crate::vehicle::VehicleSource;

/// Wait after a link that had a login, before dialling again.
const RECONNECT_DELAY_MS: u64 = 2_000;
/// Stay off after the platform's disconnect command (0x82 0x05); the standard names no time.
const DISCONNECT_HOLD_MS: u64 = 10_000;
/// Failed attempts back off from 1 s, doubling, to this.
const BACKOFF_MAX_MS: u64 = 60_000;
/// Largest frame we send: an answer (320-byte data unit) or a report, with header and BCC.
const TX_FRAME: usize = 512;
/// Largest frame we take from the platform (parameter sets with both domains fit).
const RX_FRAME: usize = 1024;

fn backoff_ms(failures: u32) -> u64 {
    (1_000u64 << failures.saturating_sub(1).min(6)).min(BACKOFF_MAX_MS)
}

fn connect_error_name(e: ConnectError) -> &'static str {
    match e {
        ConnectError::NoNetwork => "network not up",
        ConnectError::BadEndpoint => "bad endpoint",
        ConnectError::Dns => "name not resolved",
        ConnectError::Tcp => "TCP connect failed",
        ConnectError::Tls(reason) => reason,
    }
}

fn end_name(end: LinkEnd) -> &'static str {
    match end {
        LinkEnd::PeerClosed => "closed by the platform",
        LinkEnd::Broken => "broken",
        LinkEnd::HungUp => "hung up",
    }
}

impl<V: VehicleSource, S: ReissueStore, P: Platform> App<V, S, P> {
    /// Dials, runs a session, decides the wait, forever.
    pub(super) async fn connections<T: Transport>(&self, transport: &mut T) {
        let mut failures: u32 = 0;
        let mut next_attempt = now_ms();
        loop {
            // Not before the machine allows the next login (after three failures: 0x0C).
            let login_at = self.with(|s| s.tbox.next_login_at()).unwrap_or(0);
            Timer::at(Instant::from_millis(next_attempt.max(login_at))).await;

            let (host, port) = self.with(|s| {
                let p = s.tbox.params();
                let endpoint = (p.platform_domain.clone(), p.platform_port);
                s.link_endpoint = Some(endpoint.clone());
                s.logged_in_on_link = false;
                s.hang_up = false;
                s.hang_up_reason = HangUp::None;
                endpoint
            });
            info!("link: connecting to {}:{}", Ascii(&host), port);
            let endpoint = Endpoint { host: &host, port };
            let result = transport.run_session(&endpoint, &mut LinkSession { app: self }).await;

            let now = now_ms();
            let (logged_in, reason, power) = self.with(|s| {
                s.tbox.handle_disconnected(now);
                s.link_endpoint = None;
                (s.logged_in_on_link, s.hang_up_reason, s.power)
            });
            self.kick.signal(());
            match result {
                Ok(end) => info!(
                    "link: {} ({} reports held)",
                    end_name(end),
                    self.with(|s| s.tbox.stored())
                ),
                Err(ConnectError::Tls(reason)) => info!("tls: handshake failed: {reason}"),
                Err(e) => info!("link: no connection: {}", connect_error_name(e)),
            }
            if let Some(power) = power {
                self.with(|s| match power {
                    Power::Reset => s.platform.reset(),
                    Power::Off => s.platform.power_off(),
                });
            }
            let delay = match (result, reason) {
                (Ok(_), HangUp::Commanded) => DISCONNECT_HOLD_MS,
                (Ok(_), _) if logged_in => {
                    failures = 0;
                    RECONNECT_DELAY_MS
                }
                _ => {
                    failures = failures.saturating_add(1);
                    backoff_ms(failures)
                }
            };
            next_attempt = now_ms() + delay;
        }
    }
}

/// The application's side of one connection.
struct LinkSession<'a, V, S: ReissueStore, P> {
    app: &'a App<V, S, P>,
}

impl<V: VehicleSource, S: ReissueStore, P: Platform> Session for LinkSession<'_, V, S, P> {
    async fn run<R: Read, W: Write>(&mut self, mut reader: R, mut writer: W) -> LinkEnd {
        let app = self.app;
        let now = now_ms();
        app.with(|s| s.tbox.handle_connected(now));
        #[cfg(feature = "edition-2025")]
        app.activate(now);
        app.kick.signal(());

        let read = async {
            let mut deframer = Deframer::<RX_FRAME>::new();
            loop {
                let n = match reader.read(deframer.spare_mut(RX_FRAME / 4)).await {
                    Ok(0) => return LinkEnd::PeerClosed,
                    Ok(n) => n,
                    Err(_) => return LinkEnd::Broken,
                };
                deframer.commit(n);
                while let Some(event) = deframer.poll() {
                    match event {
                        Event::Frame { bytes, .. } => {
                            let now = now_ms();
                            app.with(|s| s.tbox.handle_frame(now, bytes));
                        }
                        Event::Discarded(d) => info!("frame: {} bytes skipped", d.len),
                    }
                }
                app.kick.signal(());
            }
        };

        let write = async {
            let mut buf = [0u8; TX_FRAME];
            loop {
                let mut sent = false;
                loop {
                    let now = now_ms();
                    let Some(n) = app.with(|s| s.tbox.poll_transmit(now, &mut buf)) else {
                        break;
                    };
                    if writer.write_all(&buf[..n]).await.is_err() {
                        return LinkEnd::Broken;
                    }
                    sent = true;
                }
                if sent {
                    if writer.flush().await.is_err() {
                        return LinkEnd::Broken;
                    }
                    // Sending may have produced events (the logout went out).
                    app.kick.signal(());
                    // Look again before hanging up: while the flush waited, the service loop
                    // may have queued more (the answer to a shutdown and the logout).
                    continue;
                }
                if app.with(|s| s.hang_up) {
                    return LinkEnd::HungUp;
                }
                app.tx_ready.wait().await;
            }
        };

        match select(read, write).await {
            Either::First(end) | Either::Second(end) => end,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_to_a_minute() {
        let delays: std::vec::Vec<u64> = (1..=9).map(backoff_ms).collect();
        assert_eq!(
            delays,
            [1_000, 2_000, 4_000, 8_000, 16_000, 32_000, 60_000, 60_000, 60_000]
        );
    }
}
