//! The `decode` and `encode` commands: frames to JSON and back, with signatures checked and data
//! units decrypted on the way in, signed and encrypted on the way out (`cli_security`).

use std::io::Write;

use anyhow::{anyhow, bail, Result};
use gb32960_core::frame::{Deframer, DiscardReason, Event, RawFrame};
use gb32960_core::Frame;

use crate::cli_security::{
    add_signature_check, encode_with, mark_decrypted, DataUnitKey, EncodeOptions, VerifyOptions,
};

/// Parses hex, ignoring white space (and an optional `0x` prefix).
pub fn parse_hex(s: &str) -> Result<Vec<u8>> {
    let s = s.trim();
    let s = s.strip_prefix("0x").or_else(|| s.strip_prefix("0X")).unwrap_or(s);
    let clean: String = s.chars().filter(|c| !c.is_whitespace()).collect();
    if clean.is_empty() {
        bail!("no hex given");
    }
    hex::decode(&clean).map_err(|e| anyhow!("invalid hex: {e}"))
}

/// What `decode` does beyond the codec: check signatures, decrypt data units.
#[derive(Debug, Default)]
pub struct DecodeOptions {
    /// Signature checks (always made; `--public-key` and `--marker-included`).
    pub verify: VerifyOptions,
    /// `--key`: decrypt AES and SM4 data units.
    pub key: Option<DataUnitKey>,
}

/// Why one frame did not give its JSON: a one-line message and a stable kind.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FrameError {
    /// The message.
    pub message: String,
    /// `decrypt`, `invalid_key`, `unsupported`, or the codec's error kind.
    pub kind: &'static str,
    /// Whether `--key` is to blame (a key, mode or padding that does not fit the data unit):
    /// the message then says so itself.
    pub key_related: bool,
}

/// Decodes one checked frame to its JSON: decrypted with `opts.key` when its data unit is
/// encrypted with AES or SM4 (then `encryption` keeps the wire's value and `"decrypted": true`
/// follows it), and with `valid`/`key` added to its signature. Data units encrypted with RSA or
/// SM2 stay `encrypted`: a data-unit key does not open them.
pub fn decode_raw(raw: &RawFrame<'_>, opts: &DecodeOptions) -> std::result::Result<serde_json::Value, FrameError> {
    let h = raw.header;
    let mut buf = Vec::new();
    let (plain, decrypted) = match &opts.key {
        Some(key) if DataUnitKey::applies_to(h.encryption, h.edition) && !raw.data.is_empty() => {
            let plain = key.decrypt(raw, &mut buf).map_err(|(message, kind)| FrameError {
                message,
                kind,
                key_related: true,
            })?;
            (plain, true)
        }
        _ => (*raw, false),
    };
    let frame = Frame::decode(&plain).map_err(|e| FrameError {
        message: if decrypted {
            format!("the decrypted data unit does not decode (wrong --key, --cipher-mode, --iv or --padding?): {e}")
        } else {
            e.to_string()
        },
        kind: e.kind(),
        key_related: decrypted,
    })?;
    let mut json = serde_json::to_value(frame).map_err(|e| FrameError {
        message: e.to_string(),
        kind: "json",
        key_related: false,
    })?;
    if decrypted {
        json = mark_decrypted(json, h.encryption, h.edition);
    }
    add_signature_check(&mut json, &plain, &opts.verify);
    Ok(json)
}

/// Decodes exactly one frame to its JSON.
pub fn decode_frame(bytes: &[u8]) -> Result<serde_json::Value> {
    decode_frame_with(bytes, &DecodeOptions::default())
}

/// Decodes exactly one frame to its JSON, with signature checks and decryption (`decode_raw`).
pub fn decode_frame_with(bytes: &[u8], opts: &DecodeOptions) -> Result<serde_json::Value> {
    let raw = RawFrame::parse(bytes).map_err(|e| anyhow!("cannot decode frame: {e}"))?;
    let h = raw.header;
    if opts.key.is_some() && h.encryption.is_encrypted(h.edition) && !DataUnitKey::applies_to(h.encryption, h.edition) {
        bail!(
            "--key decrypts AES (0x03) and SM4 (0x05) data units; this one is encrypted with {} (0x{:02X})",
            h.encryption.name(h.edition).to_uppercase(),
            h.encryption.0
        );
    }
    decode_raw(&raw, opts).map_err(|e| {
        if e.key_related {
            anyhow!(e.message)
        } else {
            anyhow!("cannot decode frame: {}", e.message)
        }
    })
}

/// Encodes a frame from its JSON.
pub fn encode_frame(value: &serde_json::Value) -> Result<Vec<u8>> {
    crate::json_encode::encode(value).map_err(|e| anyhow!("cannot encode frame: {e}"))
}

/// Encodes a frame from its JSON, then signs it and encrypts its data unit as `opts` asks.
pub fn encode_frame_with(value: &serde_json::Value, opts: &mut EncodeOptions) -> Result<Vec<u8>> {
    encode_with(value, opts, encode_frame)
}

/// What [`decode_stream`] saw.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct StreamStats {
    /// Frames with a good checksum.
    pub frames: usize,
    /// Of these, frames whose data unit did not decode or decrypt (printed with an `error` key).
    pub undecodable: usize,
    /// Bytes skipped (garbage, bad checksums, bad headers).
    pub discarded_bytes: usize,
}

/// Decodes a capture of back-to-back frames, writing one JSON object a line. Bytes between
/// frames are skipped as the deframer resynchronises; a frame whose data unit does not decode
/// is printed with its header, raw hex and the error, so nothing is silently lost.
pub fn decode_stream(input: &[u8], out: &mut impl Write) -> Result<StreamStats> {
    decode_stream_with(input, &DecodeOptions::default(), out)
}

/// [`decode_stream`] with signature checks and decryption on every frame (`decode_raw`).
pub fn decode_stream_with(mut input: &[u8], opts: &DecodeOptions, out: &mut impl Write) -> Result<StreamStats> {
    let mut d: Box<Deframer<{ gb32960_core::MAX_FRAME_LEN }>> = Box::default();
    let mut stats = StreamStats::default();
    while !input.is_empty() {
        let n = d.feed(input);
        input = &input[n..];
        while let Some(ev) = d.poll() {
            match ev {
                Event::Frame { bytes, frame } => {
                    stats.frames += 1;
                    let line = match decode_raw(&frame, opts) {
                        Ok(v) => v,
                        Err(e) => {
                            stats.undecodable += 1;
                            serde_json::json!({
                                "header": frame.header,
                                "raw": hex::encode_upper(bytes),
                                "error": e.message,
                                "error_kind": e.kind,
                            })
                        }
                    };
                    serde_json::to_writer(&mut *out, &line)?;
                    writeln!(out)?;
                }
                Event::Discarded(x) => {
                    stats.discarded_bytes += x.len;
                    if !matches!(x.reason, DiscardReason::Garbage) {
                        eprintln!("skipped {} byte(s): {:?}", x.len, x.reason);
                    }
                }
            }
        }
    }
    if d.buffered() > 0 {
        eprintln!(
            "{} byte(s) at the end of the input do not form a whole frame",
            d.buffered()
        );
        stats.discarded_bytes += d.buffered();
    }
    Ok(stats)
}
