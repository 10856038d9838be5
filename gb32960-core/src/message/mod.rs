//! Data units and the decoded [`Frame`].
//!
//! [`Body::parse`] dispatches on edition, command and response flag (notes §7 "decoder
//! checklist"): a flag other than 0xFE is a response; `(0x80, success)` carries parameter values;
//! encrypted data units and unknown commands stay raw so that they still round-trip.

mod control;
mod login;
mod params;
mod response;
mod security;

pub use control::{ControlCommand, TerminalControl, Upgrade, UpgradeFields};
pub use login::{Logout, PlatformLogin, VehicleLogin};
pub use params::{Param, ParamId, ParamItems, ParamIter, ParamList, ParamQuery, ParamValue};
pub use response::Response;
pub use security::{Activation, ActivationResponse, KeyExchange, VehicleLogin2025};

use crate::error::{Error, Result};
use crate::frame::{emit_frame, Command, Edition, Header, RawFrame};
use crate::realtime::{v2025, RealtimeReport};
use crate::wire::Writer;

/// A data-unit layout error at the position of `rest` inside `whole`.
pub(crate) fn malformed(what: &'static str, whole: &[u8], rest: &[u8]) -> Error {
    Error::Malformed {
        what,
        offset: crate::wire::offset_in(whole, rest),
    }
}

/// A decoded data unit.
#[derive(Debug, Clone, Copy, PartialEq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum Body<'a> {
    /// 0x01 vehicle login (2016 Table 6).
    VehicleLogin(VehicleLogin<'a>),
    /// 0x01 vehicle login (2025 T6).
    VehicleLogin2025(VehicleLogin2025<'a>),
    /// 0x02 real-time or 0x03 reissue report (the header's command says which), 2016 blocks.
    Realtime(RealtimeReport<'a>),
    /// 0x02 real-time or 0x03 reissue report, 2025 blocks and signature.
    Realtime2025(v2025::RealtimeReport<'a>),
    /// 0x09 activation (2025).
    Activation(Activation<'a>),
    /// 0x0A activation response (2025, a downlink command).
    ActivationResponse(ActivationResponse),
    /// 0x0B data-unit key exchange (2025).
    KeyExchange(KeyExchange<'a>),
    /// 0x04 vehicle logout.
    VehicleLogout(Logout),
    /// 0x05 platform login.
    PlatformLogin(PlatformLogin),
    /// 0x06 platform logout.
    PlatformLogout(Logout),
    /// 0x07 heartbeat (empty data unit).
    Heartbeat,
    /// 0x08 terminal time calibration request (empty data unit).
    TimeCalibration,
    /// 0x80 parameter query (platform → terminal).
    ParamQuery(ParamQuery<'a>),
    /// 0x81 parameter set (platform → terminal).
    ParamSet(ParamList<'a>),
    /// 0x82 terminal control (platform → terminal).
    Control(TerminalControl<'a>),
    /// The terminal's answer to 0x80 (flag 0x01) with the parameter values.
    ParamAnswer(ParamList<'a>),
    /// Any other response (flag ≠ 0xFE): empty, time only, or time and an echo.
    Response(Response<'a>),
    /// An encrypted data unit, kept as ciphertext.
    Encrypted(&'a [u8]),
    /// A data unit this codec does not decode (reserved or vendor commands, a heartbeat that
    /// carries data, layouts of an edition not handled here), kept raw.
    Other(&'a [u8]),
}

impl<'a> Body<'a> {
    /// Decodes the data unit of a frame with this header.
    pub fn parse(header: &Header, data: &'a [u8]) -> Result<Self> {
        let edition = header.edition;
        if Self::encrypted(header, data) || !header.response.is_command() {
            return Self::parse_downlink(header, data);
        }
        let body = match (header.command, edition) {
            (Command::VEHICLE_LOGIN, Edition::V2016) => Body::VehicleLogin(VehicleLogin::parse(data)?),
            (Command::REALTIME | Command::REISSUE, Edition::V2016) => Body::Realtime(RealtimeReport::parse(data)?),
            (Command::VEHICLE_LOGIN, Edition::V2025) => Body::VehicleLogin2025(VehicleLogin2025::parse(data)?),
            (Command::REALTIME | Command::REISSUE, Edition::V2025) => {
                Body::Realtime2025(v2025::RealtimeReport::parse(data)?)
            }
            (Command::ACTIVATION, Edition::V2025) => Body::Activation(Activation::parse(data)?),
            (Command::VEHICLE_LOGOUT, _) => Body::VehicleLogout(Logout::parse(data, "vehicle logout")?),
            (Command::PLATFORM_LOGIN, _) => Body::PlatformLogin(PlatformLogin::parse(data)?),
            (Command::PLATFORM_LOGOUT, _) => Body::PlatformLogout(Logout::parse(data, "platform logout")?),
            (Command::HEARTBEAT, _) if data.is_empty() => Body::Heartbeat,
            (Command::TIME_CALIBRATION, _) if data.is_empty() => Body::TimeCalibration,
            _ => return Self::parse_downlink(header, data),
        };
        Ok(body)
    }

    /// Parses what a terminal receives: answers, 0x80 query, 0x81 set, 0x82 control and the
    /// 2025 activation answer (0x0A) and key exchange (0x0B); any other command is
    /// [`Body::Other`]. The same results as [`Body::parse`] for those frames, without linking the
    /// parsers of what only terminals send (real-time reports above all): the T-Box machine
    /// decodes with this.
    pub fn parse_downlink(header: &Header, data: &'a [u8]) -> Result<Self> {
        let edition = header.edition;
        if Self::encrypted(header, data) {
            return Ok(Body::Encrypted(data));
        }
        if !header.response.is_command() {
            if header.command == Command::PARAM_QUERY && header.response.0 == 0x01 && data.len() > 6 {
                return ParamList::parse(edition, data).map(Body::ParamAnswer);
            }
            return Ok(Body::Response(Response::parse(data)));
        }
        Ok(match (header.command, edition) {
            (Command::ACTIVATION_RESPONSE, Edition::V2025) => {
                Body::ActivationResponse(ActivationResponse::parse(data)?)
            }
            (Command::KEY_EXCHANGE, Edition::V2025) => Body::KeyExchange(KeyExchange::parse(data)?),
            (Command::PARAM_QUERY, _) => Body::ParamQuery(ParamQuery::parse(data)?),
            (Command::PARAM_SET, _) => Body::ParamSet(ParamList::parse(edition, data)?),
            (Command::TERMINAL_CONTROL, _) => Body::Control(TerminalControl::parse(data)?),
            _ => Body::Other(data),
        })
    }

    /// Whether the data unit is encrypted. An empty one has nothing to decrypt, whatever the
    /// flag says (heartbeats are seen with the RSA or SM2 flag set).
    fn encrypted(header: &Header, data: &[u8]) -> bool {
        header.encryption.is_encrypted(header.edition) && !data.is_empty()
    }

    /// Bytes of this data unit on the wire in `edition`.
    pub fn wire_len(&self, edition: Edition) -> usize {
        match self {
            Body::VehicleLogin(b) => b.wire_len(),
            Body::VehicleLogin2025(b) => b.wire_len(),
            Body::Realtime(b) => b.wire_len(),
            Body::Realtime2025(b) => b.wire_len(),
            Body::Activation(b) => b.wire_len(),
            Body::ActivationResponse(_) => ActivationResponse::LEN,
            Body::KeyExchange(b) => b.wire_len(),
            Body::VehicleLogout(_) | Body::PlatformLogout(_) => Logout::LEN,
            Body::PlatformLogin(_) => PlatformLogin::LEN,
            Body::Heartbeat | Body::TimeCalibration => 0,
            Body::ParamQuery(b) => b.wire_len(),
            Body::ParamSet(b) | Body::ParamAnswer(b) => b.wire_len(edition),
            Body::Control(b) => b.wire_len(),
            Body::Response(b) => b.wire_len(),
            Body::Encrypted(d) | Body::Other(d) => d.len(),
        }
    }

    /// Appends this data unit.
    pub fn emit(&self, edition: Edition, w: &mut Writer<'_>) -> Result<()> {
        match self {
            Body::VehicleLogin(b) => b.emit(w),
            Body::VehicleLogin2025(b) => b.emit(w),
            Body::Realtime(b) => b.emit(w),
            Body::Realtime2025(b) => b.emit(w),
            Body::Activation(b) => b.emit(w),
            Body::ActivationResponse(b) => b.emit(w),
            Body::KeyExchange(b) => b.emit(w),
            Body::VehicleLogout(b) | Body::PlatformLogout(b) => b.emit(w),
            Body::PlatformLogin(b) => b.emit(w),
            Body::Heartbeat | Body::TimeCalibration => Ok(()),
            Body::ParamQuery(b) => b.emit(w),
            Body::ParamSet(b) | Body::ParamAnswer(b) => b.emit(edition, w),
            Body::Control(b) => b.emit(w),
            Body::Response(b) => b.emit(w),
            Body::Encrypted(d) | Body::Other(d) => w.bytes(d),
        }
    }
}

/// A decoded frame: header and data unit.
#[derive(Debug, Clone, Copy, PartialEq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Frame<'a> {
    /// The header.
    pub header: Header,
    /// The decoded data unit.
    pub body: Body<'a>,
}

impl<'a> Frame<'a> {
    /// Parses and decodes exactly one frame.
    pub fn parse(bytes: &'a [u8]) -> Result<Self> {
        Self::decode(&RawFrame::parse(bytes)?)
    }

    /// Decodes the data unit of a checked frame.
    pub fn decode(raw: &RawFrame<'a>) -> Result<Self> {
        Ok(Frame {
            header: raw.header,
            body: Body::parse(&raw.header, raw.data)?,
        })
    }

    /// Total bytes on the wire.
    pub fn wire_len(&self) -> usize {
        crate::HEADER_LEN + self.body.wire_len(self.header.edition) + 1
    }

    /// Emits the frame into `buf` (computing the length and BCC); returns the bytes written.
    pub fn emit(&self, buf: &mut [u8]) -> Result<usize> {
        if buf.len() < self.wire_len() {
            return Err(Error::BufferTooSmall {
                needed: self.wire_len(),
            });
        }
        emit_frame(&self.header, buf, |w| self.body.emit(self.header.edition, w))
    }
}
