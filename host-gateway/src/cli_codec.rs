//! The `decode` and `encode` commands: frames to JSON and back.

use std::io::Write;

use anyhow::{anyhow, bail, Result};
use gb32960_core::frame::{Deframer, DiscardReason, Event};
use gb32960_core::Frame;

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

/// Decodes exactly one frame to its JSON.
pub fn decode_frame(bytes: &[u8]) -> Result<serde_json::Value> {
    let frame = Frame::parse(bytes).map_err(|e| anyhow!("cannot decode frame: {e}"))?;
    Ok(serde_json::to_value(frame)?)
}

/// Encodes a frame from its JSON.
pub fn encode_frame(value: &serde_json::Value) -> Result<Vec<u8>> {
    crate::json_encode::encode(value).map_err(|e| anyhow!("cannot encode frame: {e}"))
}

/// What [`decode_stream`] saw.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct StreamStats {
    /// Frames with a good checksum.
    pub frames: usize,
    /// Of these, frames whose data unit did not decode (printed with an `error` key).
    pub undecodable: usize,
    /// Bytes skipped (garbage, bad checksums, bad headers).
    pub discarded_bytes: usize,
}

/// Decodes a capture of back-to-back frames, writing one JSON object a line. Bytes between
/// frames are skipped as the deframer resynchronises; a frame whose data unit does not decode
/// is printed with its header, raw hex and the error, so nothing is silently lost.
pub fn decode_stream(mut input: &[u8], out: &mut impl Write) -> Result<StreamStats> {
    let mut d: Box<Deframer<{ gb32960_core::MAX_FRAME_LEN }>> = Box::default();
    let mut stats = StreamStats::default();
    while !input.is_empty() {
        let n = d.feed(input);
        input = &input[n..];
        while let Some(ev) = d.poll() {
            match ev {
                Event::Frame { bytes, frame } => {
                    stats.frames += 1;
                    let line = match Frame::decode(&frame) {
                        Ok(f) => serde_json::to_value(f)?,
                        Err(e) => {
                            stats.undecodable += 1;
                            serde_json::json!({
                                "header": frame.header,
                                "raw": hex::encode_upper(bytes),
                                "error": e.to_string(),
                                "error_kind": e.kind(),
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
        eprintln!("{} byte(s) at the end of the input do not form a whole frame", d.buffered());
        stats.discarded_bytes += d.buffered();
    }
    Ok(stats)
}
