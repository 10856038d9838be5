//! The driver of one TCP connection: bytes through the deframer into the platform session
//! machine, its decisions (login, duplicate VIN) taken here, accepted frames written to the
//! store and acknowledged before anything is answered, then out to the sinks.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use gb32960_core::frame::{DiscardReason, Event, GrowableBuffer, GrowableDeframer};
use gb32960_core::session::platform::MAX_TRANSMIT_LEN;
use gb32960_core::session::platform::{PlatformConfig, PlatformEvent, PlatformSession, Refusal};
use gb32960_core::wire::FixedStr;
use gb32960_core::{Command, Edition, Frame, ResponseFlag};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::sync::{mpsc, oneshot, watch};
use tracing::Instrument;

use super::registry::{ConnCommand, DownlinkOutcome, Online};
use super::signature;
use super::Ctx;
use crate::server::auth::{self, AuthRequest};
use crate::server::model::{DuplicatePolicy, Gateway};
use crate::server::sinks;
use crate::server::store::{FrameRecord, SessionChange, Write};
use crate::server::tls::cert::ClientIdentity;

/// What an idle connection keeps to receive into. Most frames fit (a login is ~60 bytes, a
/// full real-time report a few hundred); the buffer grows to the largest legal frame only while
/// one arrives and shrinks back afterwards, so 50,000 idle vehicles cost ~4 KiB each here.
const RECV_BASE: usize = 4096;

fn now_unix_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

fn discard_kind(reason: DiscardReason) -> &'static str {
    match reason {
        DiscardReason::Garbage => "garbage",
        DiscardReason::BadHeader => "bad_header",
        DiscardReason::LengthTooLarge { .. } => "length_too_large",
        DiscardReason::TooLongForBuffer { .. } => "too_long",
        DiscardReason::BadChecksum { .. } => "bad_checksum",
    }
}

fn vin_text(v: &FixedStr<17>) -> String {
    String::from_utf8_lossy(v.trimmed()).into_owned()
}

fn edition_str(e: Edition) -> &'static str {
    match e {
        Edition::V2016 => "2016",
        Edition::V2025 => "2025",
    }
}

/// The JSON view of a frame (docs/json.md), or the header and the error when the data unit
/// does not decode.
pub fn frame_json(bytes: &[u8]) -> serde_json::Value {
    match Frame::parse(bytes) {
        Ok(f) => serde_json::to_value(f).unwrap_or(serde_json::Value::Null),
        Err(e) => {
            serde_json::json!({ "raw": hex::encode_upper(bytes), "error": e.to_string(), "error_kind": e.kind() })
        }
    }
}

/// Runs one connection (plain TCP or TLS) until it closes. `client_cert`: the identity of a
/// device that presented a verified TLS client certificate; every login on the link must then
/// name the VIN (or, for a 0x05 platform login, the platform code) it holds.
#[allow(clippy::too_many_arguments)]
pub async fn run<S: AsyncRead + AsyncWrite + Unpin>(
    ctx: Arc<Ctx>,
    gw: Arc<Gateway>,
    sock: S,
    peer: SocketAddr,
    conn_id: u64,
    stop: watch::Receiver<bool>,
    guard: mpsc::Sender<()>,
    client_cert: Option<ClientIdentity>,
) {
    let span = tracing::info_span!("conn", conn_id, %peer, gateway = gw.id, vin = tracing::field::Empty);
    ctx.metrics.connection_opened();
    let mut c = Conn::new(ctx.clone(), gw, peer, conn_id);
    c.client_cert = client_cert;
    let reason = c.drive(sock, stop).instrument(span.clone()).await;
    c.finish(&reason).instrument(span).await;
    ctx.metrics.connection_closed();
    drop(guard);
}

struct Conn {
    ctx: Arc<Ctx>,
    gw: Arc<Gateway>,
    peer: SocketAddr,
    conn_id: u64,
    session: PlatformSession,
    /// The VINs online on this link and their session ids (one on a vehicle link; the
    /// forwarded vehicles on a cascade link).
    online: HashMap<String, u64>,
    /// On a cascade link: the platform's code once its login was accepted.
    cascade_id: Option<String>,
    /// The login frame awaiting the decision (stored once accepted).
    login_frame: Option<Vec<u8>>,
    downlinks: HashMap<u32, oneshot::Sender<DownlinkOutcome>>,
    tx: mpsc::UnboundedSender<ConnCommand>,
    rx: mpsc::UnboundedReceiver<ConnCommand>,
    close_reason: Option<String>,
    /// The identity of the device's TLS client certificate, when the gateway verifies them.
    client_cert: Option<ClientIdentity>,
    /// The activated keys of this link's vehicles, for their signed 2025 reports.
    keys: signature::Keys,
}

impl Conn {
    fn new(ctx: Arc<Ctx>, gw: Arc<Gateway>, peer: SocketAddr, conn_id: u64) -> Self {
        let config = PlatformConfig {
            idle_timeout_ms: ctx.idle_timeout_ms,
            downlink_timeout_ms: ctx.downlink_timeout_ms,
            ..PlatformConfig::default()
        };
        let session = PlatformSession::new(config, ctx.now_ms());
        let (tx, rx) = mpsc::unbounded_channel();
        Conn {
            ctx,
            gw,
            peer,
            conn_id,
            session,
            online: HashMap::new(),
            cascade_id: None,
            login_frame: None,
            downlinks: HashMap::new(),
            tx,
            rx,
            close_reason: None,
            client_cert: None,
            keys: signature::Keys::default(),
        }
    }

    /// Returns why the connection ended.
    async fn drive<S: AsyncRead + AsyncWrite + Unpin>(
        &mut self,
        mut sock: S,
        mut stop: watch::Receiver<bool>,
    ) -> String {
        tracing::debug!("connected");
        // Bytes are read straight into the deframer's free space: no separate read buffer.
        let mut deframer = GrowableDeframer::with_buffer(GrowableBuffer::new(RECV_BASE, gb32960_core::MAX_FRAME_LEN));
        let mut wbuf = [0u8; MAX_TRANSMIT_LEN];
        loop {
            self.cancel_abandoned_downlinks();
            while let Some(n) = self.session.poll_transmit(self.ctx.now_ms(), &mut wbuf) {
                if let Err(e) = sock.write_all(&wbuf[..n]).await {
                    return format!("write failed: {e}");
                }
            }
            if let Some(r) = self.close_reason.take() {
                return r;
            }
            let deadline = self
                .session
                .poll_timeout()
                .map(|t| t.saturating_sub(self.ctx.now_ms()))
                .unwrap_or(60_000);
            let sleep = tokio::time::sleep(Duration::from_millis(deadline));
            tokio::select! {
                r = sock.read(deframer.spare_mut(RECV_BASE)) => match r {
                    Ok(0) => return "peer closed".into(),
                    Err(e) => return format!("read failed: {e}"),
                    Ok(n) => {
                        deframer.commit(n);
                        loop {
                            let bytes = match deframer.poll() {
                                None => break,
                                Some(Event::Discarded(d)) => {
                                    let kind = discard_kind(d.reason);
                                    self.ctx.metrics.decode_error(kind);
                                    tracing::debug!(bytes = d.len, kind, "bytes discarded");
                                    continue;
                                }
                                Some(Event::Frame { bytes, .. }) => bytes.to_vec(),
                            };
                            let unix = chrono::Utc::now().timestamp();
                            self.session.handle_frame(self.ctx.now_ms(), unix, &bytes);
                            self.process_events(Some(&bytes)).await;
                            // Answer each frame before the next: the machine's answer queue is
                            // bounded, and one read can carry hundreds of heartbeats.
                            while let Some(n) = self.session.poll_transmit(self.ctx.now_ms(), &mut wbuf) {
                                if let Err(e) = sock.write_all(&wbuf[..n]).await {
                                    return format!("write failed: {e}");
                                }
                            }
                        }
                    }
                },
                Some(cmd) = self.rx.recv() => self.command(cmd).await,
                _ = sleep => {
                    self.session.handle_timeout(self.ctx.now_ms());
                    self.process_events(None).await;
                }
                _ = stop.changed() => return "gateway stopped".into(),
            }
        }
    }

    /// Withdraws the downlink commands whose API caller stopped waiting (its own timeout), so
    /// they are not retried and a late answer to one cannot complete the next.
    fn cancel_abandoned_downlinks(&mut self) {
        let session = &mut self.session;
        let metrics = &self.ctx.metrics;
        self.downlinks.retain(|&id, reply| {
            if reply.is_closed() && session.cancel_downlink(id) {
                metrics.downlink("cancelled");
                tracing::debug!(downlink = id, "downlink withdrawn: the caller stopped waiting");
            }
            !reply.is_closed()
        });
    }

    async fn command(&mut self, cmd: ConnCommand) {
        match cmd {
            ConnCommand::Kick { reason } => self.close_reason = Some(reason),
            ConnCommand::CallerGaveUp => self.cancel_abandoned_downlinks(),
            ConnCommand::Downlink {
                vin,
                command,
                data_unit,
                reply,
            } => {
                let target = FixedStr::<17>::new(&vin);
                let (Some(_), Some(vin)) = (self.session.vin(), target) else {
                    self.ctx.metrics.downlink("failed");
                    let _ = reply.send(DownlinkOutcome::Failed {
                        reason: "not logged in".into(),
                    });
                    return;
                };
                match self
                    .session
                    .queue_downlink(self.ctx.now_ms(), vin, Command(command), &data_unit)
                {
                    Ok(id) => {
                        self.downlinks.insert(id, reply);
                    }
                    Err(e) => {
                        self.ctx.metrics.downlink("failed");
                        let _ = reply.send(DownlinkOutcome::Failed { reason: e.to_string() });
                    }
                }
            }
        }
    }

    /// Stores an accepted frame and waits for the commit; false if the store failed.
    async fn store_frame(&mut self, bytes: &[u8], report_key: Option<(String, u32)>) -> bool {
        self.store_json(bytes, frame_json(bytes), report_key).await
    }

    /// Stores a report with what its signature check found (`signature_check` in its JSON,
    /// absent for an unsigned one).
    async fn store_report(&mut self, bytes: &[u8], report_key: (String, u32), check: signature::Check) -> bool {
        let mut json = frame_json(bytes);
        if check != signature::Check::Unsigned {
            json["signature_check"] = check.as_str().into();
        }
        self.store_json(bytes, json, Some(report_key)).await
    }

    async fn store_json(&mut self, bytes: &[u8], json: serde_json::Value, report_key: Option<(String, u32)>) -> bool {
        let Ok(raw) = gb32960_core::RawFrame::parse(bytes) else {
            return false;
        };
        let h = raw.header;
        let record = FrameRecord {
            vin: vin_text(&h.vin),
            gateway_id: self.gw.id,
            received_at: now_unix_ms(),
            edition: edition_str(h.edition),
            command: h.command.0,
            raw: bytes.to_vec(),
            json: json.to_string(),
            report_key,
        };
        let message = sinks::message(
            &self.gw,
            "frame",
            &record.vin,
            record.received_at,
            json,
            serde_json::json!({ "command": record.command, "raw": hex::encode_upper(bytes) }),
        );
        match self.ctx.writer.write(Write::Frame(record)).await {
            Ok(()) => {
                self.ctx.metrics.frame(h.command.name(h.edition));
                self.ctx.sinks.publish(message);
                true
            }
            Err(e) => {
                tracing::error!(error = %e, "frame not stored; closing the connection");
                self.close_reason = Some(format!("store failed: {e}"));
                false
            }
        }
    }

    async fn process_events(&mut self, frame: Option<&[u8]>) {
        while let Some(e) = self.session.poll_event() {
            match e {
                PlatformEvent::LoginRequest { vin, .. } => {
                    self.login_frame = frame.map(<[u8]>::to_vec);
                    self.decide_login(vin_text(&vin)).await;
                }
                PlatformEvent::PlatformLoginRequest {
                    id, username, password, ..
                } => {
                    let username = String::from_utf8_lossy(username.trimmed()).into_owned();
                    let password = String::from_utf8_lossy(password.trimmed()).into_owned();
                    self.decide_platform_login(vin_text(&id), username, password).await;
                }
                PlatformEvent::LoggedIn { vin, cascade: false } => self.logged_in(vin_text(&vin), None).await,
                PlatformEvent::LoggedIn { vin, cascade: true } => {
                    let vin = vin_text(&vin);
                    if self.cascade_id.is_none() {
                        // The platform's own login was accepted: the cascade link is open.
                        tracing::Span::current().record("vin", vin.as_str());
                        tracing::info!(platform = %vin, "cascade link opened");
                        self.cascade_id = Some(vin);
                    } else {
                        // A vehicle forwarded by the platform.
                        self.login_frame = frame.map(<[u8]>::to_vec);
                        self.logged_in(vin, Some(self.ctx.next_conn_id())).await;
                    }
                }
                PlatformEvent::Report { vin, time, digest, .. } => {
                    if let Some(f) = frame {
                        let vin = vin_text(&vin);
                        let check = self.keys.check(&self.ctx, &vin, f).await;
                        if check == signature::Check::Invalid {
                            // 0x05: the terminal sends the report again (notes 2025 §3.2).
                            tracing::warn!(%vin, "report refused: its signature does not verify with the activated key");
                            self.ctx.metrics.decode_error("bad_signature");
                            if let Ok(raw) = gb32960_core::RawFrame::parse(f) {
                                self.session
                                    .reject_report(&raw.header, time, ResponseFlag::SIGNATURE_FAILED);
                            }
                        } else {
                            let key = (hex::encode_upper(time.0), digest);
                            self.store_report(f, key, check).await;
                        }
                    }
                }
                PlatformEvent::Heartbeat { .. }
                | PlatformEvent::TimeCalibration { .. }
                | PlatformEvent::KeyExchange { .. } => {
                    if let Some(f) = frame {
                        self.store_frame(f, None).await;
                    }
                }
                PlatformEvent::LoggedOut { vin } => {
                    let platform_logout = frame.is_some_and(|f| f.get(2) == Some(&Command::PLATFORM_LOGOUT.0));
                    if platform_logout {
                        // 0x06 closes the cascade link (the session closes it); its frame is
                        // link-level and not stored.
                        tracing::info!("cascade link closed by the platform's logout");
                    } else {
                        if let Some(f) = frame {
                            self.store_frame(f, None).await;
                        }
                        if self.cascade_id.is_some() {
                            self.went_offline(&vin_text(&vin), "logged out").await;
                        }
                    }
                }
                PlatformEvent::ActivationRequest { vin } => self.activation(vin, frame).await,
                PlatformEvent::DownlinkAnswered { id, flag, .. } => {
                    if let Some(f) = frame {
                        self.store_frame(f, None).await;
                    }
                    self.ctx.metrics.downlink(if flag == ResponseFlag::SUCCESS {
                        "success"
                    } else {
                        "error"
                    });
                    if let Some(reply) = self.downlinks.remove(&id) {
                        let bytes = frame.unwrap_or(&[]);
                        let edition = self.session.edition().unwrap_or(Edition::V2016);
                        let _ = reply.send(DownlinkOutcome::Answered {
                            flag: flag.0,
                            response_name: flag.name(edition).to_string(),
                            raw: hex::encode_upper(bytes),
                            frame: frame_json(bytes),
                        });
                    }
                }
                PlatformEvent::DownlinkTimedOut { id, .. } => {
                    self.ctx.metrics.downlink("timeout");
                    if let Some(reply) = self.downlinks.remove(&id) {
                        let _ = reply.send(DownlinkOutcome::TimedOut);
                    }
                }
                PlatformEvent::Refused { command, reason, .. } => {
                    let kind = match reason {
                        Refusal::Malformed(e) => e.kind(),
                        Refusal::NotLoggedIn => "not_logged_in",
                        Refusal::WrongVin => "wrong_vin",
                        Refusal::Unexpected(_) => "unexpected_command",
                        Refusal::LoginInProgress => "login_in_progress",
                    };
                    self.ctx.metrics.decode_error(kind);
                    tracing::warn!(command = command.0, kind, "frame refused");
                }
                PlatformEvent::Close { reason } => {
                    self.close_reason = Some(format!("{reason:?}"));
                }
            }
        }
    }

    async fn decide_login(&mut self, vin: String) {
        let unix = chrono::Utc::now().timestamp();
        if self.refused_by_certificate(&vin, unix) {
            return;
        }
        let request = self.login_frame.as_deref().and_then(AuthRequest::from_login);
        let verdict = match &request {
            Some(r) => auth::authenticate(&self.ctx, &self.gw, r).await,
            None => Err("login frame does not decode".into()),
        };
        if let Err(why) = verdict {
            tracing::warn!(%vin, reason = %why, "login refused");
            self.ctx.metrics.login("refused");
            self.session.reject_login(unix, ResponseFlag::ERROR);
            return;
        }
        if let Some(old) = self.ctx.registry.get(&vin).filter(|o| o.conn_id != self.conn_id) {
            match self.gw.spec.duplicate_vin {
                DuplicatePolicy::RefuseNew => {
                    tracing::warn!(%vin, online_conn = old.conn_id, "login refused: VIN already online");
                    self.ctx.metrics.login("duplicate");
                    self.session.reject_login(unix, ResponseFlag::VIN_DUPLICATE);
                    return;
                }
                DuplicatePolicy::NewWins => {
                    tracing::info!(%vin, old_conn = old.conn_id, "VIN logged in again; closing the old connection");
                    let _ = old.tx.send(ConnCommand::Kick {
                        reason: "replaced by a new login of the same VIN".into(),
                    });
                }
            }
        }
        self.ctx.metrics.login("accepted");
        self.session.accept_login(self.ctx.now_ms(), unix);
    }

    /// A VIN went online on this link: `session_id` is the connection's id on a vehicle link,
    /// a fresh one for a vehicle forwarded on a cascade link.
    async fn logged_in(&mut self, vin: String, session_id: Option<u64>) {
        if self.cascade_id.is_none() {
            tracing::Span::current().record("vin", vin.as_str());
        }
        let at = now_unix_ms();
        if !self.online.contains_key(&vin) {
            let session_id = session_id.unwrap_or(self.conn_id);
            let edition = edition_str(self.session.edition().unwrap_or(Edition::V2016));
            self.ctx.registry.register(Online {
                vin: vin.clone(),
                conn_id: session_id,
                gateway_id: self.gw.id,
                peer: self.peer.to_string(),
                online_since: at,
                edition,
                cascade: self.cascade_id.clone(),
                tx: self.tx.clone(),
            });
            self.ctx.writer.write_later(Write::Session(SessionChange::Online {
                conn_id: session_id,
                vin: vin.clone(),
                gateway_id: self.gw.id,
                peer: self.peer.to_string(),
                at,
            }));
            self.ctx.sinks.publish(sinks::message(
                &self.gw,
                "online",
                &vin,
                at,
                serde_json::Value::Null,
                serde_json::json!({ "conn_id": session_id, "at": at, "edition": edition }),
            ));
            self.online.insert(vin.clone(), session_id);
        }
        tracing::info!(%vin, "logged in");
        if let Some(f) = self.login_frame.take() {
            self.store_frame(&f, None).await;
        }
    }

    async fn finish(&mut self, reason: &str) {
        for (_, reply) in self.downlinks.drain() {
            let _ = reply.send(DownlinkOutcome::Failed {
                reason: format!("connection closed: {reason}"),
            });
        }
        let mut vins: Vec<String> = self.online.keys().cloned().collect();
        vins.sort();
        for vin in vins {
            self.went_offline(&vin, reason).await;
        }
        tracing::info!(reason, "connection closed");
    }

    /// A VIN of this link went offline.
    async fn went_offline(&mut self, vin: &str, reason: &str) {
        let Some(session_id) = self.online.remove(vin) else {
            return;
        };
        self.ctx.registry.unregister(vin, session_id);
        let at = now_unix_ms();
        // Waited for, so that a drain on shutdown finds the session closed.
        let _ = self
            .ctx
            .writer
            .write(Write::Session(SessionChange::Offline {
                conn_id: session_id,
                at,
                reason: reason.to_string(),
            }))
            .await;
        self.ctx.sinks.publish(sinks::message(
            &self.gw,
            "offline",
            vin,
            at,
            serde_json::Value::Null,
            serde_json::json!({ "conn_id": session_id, "at": at, "reason": reason }),
        ));
    }

    /// With a verified client certificate, a login naming another VIN (or platform code) is
    /// refused with the usual failure answer (0x02) and logged; true if it was.
    fn refused_by_certificate(&mut self, vin: &str, unix: i64) -> bool {
        let Some(why) = self.client_cert.as_ref().and_then(|c| c.check_vin(vin).err()) else {
            return false;
        };
        tracing::warn!(%vin, reason = %why, "login refused: VIN does not match the client certificate");
        self.ctx.metrics.login("certificate_mismatch");
        self.session.reject_login(unix, ResponseFlag::ERROR);
        true
    }

    /// A 0x05 platform login: a stored account (argon2 hash), optionally bound to a gateway.
    /// The password is never logged.
    async fn decide_platform_login(&mut self, id: String, username: String, password: String) {
        let unix = chrono::Utc::now().timestamp();
        if self.refused_by_certificate(&id, unix) {
            return;
        }
        let verdict = auth::platform_account(&self.ctx, &self.gw, &username, password).await;
        match verdict {
            Ok(()) => {
                tracing::info!(platform = %id, %username, "platform login accepted");
                self.ctx.metrics.login("platform_accepted");
                self.session.accept_login(self.ctx.now_ms(), unix);
            }
            Err(why) => {
                tracing::warn!(platform = %id, %username, reason = %why, "platform login refused");
                self.ctx.metrics.login("platform_refused");
                self.session.reject_login(unix, ResponseFlag::ERROR);
            }
        }
    }

    /// A 2025 activation (0x09): answered with 0x0A (see [`auth::activation`]).
    async fn activation(&mut self, vin: FixedStr<17>, frame: Option<&[u8]>) {
        let text = vin_text(&vin);
        let (status, info, why) = match frame {
            Some(f) => auth::activation(&self.ctx, &self.gw, &text, f).await,
            None => (0x02, 0x02, "no frame".to_string()),
        };
        if status == 0x01 {
            self.keys.forget(&text);
            tracing::info!(vin = %text, "activation accepted");
            self.ctx.metrics.activation("succeeded");
            if let Some(f) = frame {
                self.store_frame(f, None).await;
            }
        } else {
            tracing::warn!(vin = %text, status, info, reason = %why, "activation refused");
            self.ctx.metrics.activation("failed");
        }
        self.session.answer_activation(vin, status, info);
    }
}
