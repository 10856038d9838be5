//! Property tests: nothing panics on any input, everything that parses re-emits byte for
//! byte, and the deframer finds every frame in any chunking with garbage between frames.

use gb32960_core::frame::{bcc, BufferedDeframer, DeframeBuffer, Deframer, Event, RawFrame};
#[cfg(feature = "alloc")]
use gb32960_core::frame::{GrowableBuffer, GrowableDeframer};
use gb32960_core::{Body, Edition, Error, Frame};
use proptest::prelude::*;

/// Wraps a data unit in a 2016 or 2025 frame with a correct length and BCC.
fn frame(start: &[u8; 2], command: u8, response: u8, enc: u8, data: &[u8]) -> Vec<u8> {
    let mut f = start.to_vec();
    f.extend([command, response]);
    f.extend(b"LPROPTEST00000001");
    f.push(enc);
    f.extend((data.len() as u16).to_be_bytes());
    f.extend(data);
    f.push(bcc(&f[2..]));
    f
}

fn bytes(n: usize) -> proptest::collection::VecStrategy<proptest::num::u8::Any> {
    proptest::collection::vec(any::<u8>(), n)
}

/// Raw bytes of one 2016 information block with random content, sentinel counts included.
fn block() -> impl Strategy<Value = Vec<u8>> {
    let count8 = prop_oneof![8 => 0u8..6, 1 => Just(0xFE), 1 => Just(0xFF)];
    let count16 = prop_oneof![8 => 0u16..6, 1 => Just(0xFFFE), 1 => Just(0xFFFF)];
    prop_oneof![
        bytes(20).prop_map(|b| [vec![0x01], b].concat()),
        count8.clone().prop_flat_map(move |k| {
            let n = if k >= 0xFE { 0 } else { 12 * k as usize };
            bytes(n).prop_map(move |b| [vec![0x02, k], b].concat())
        }),
        (bytes(6), count16.clone(), bytes(10)).prop_flat_map(|(h, n, t)| {
            let m = if n >= 0xFFFE { 0 } else { n as usize };
            bytes(m).prop_map(move |p| [vec![0x03], h.clone(), n.to_be_bytes().to_vec(), p, t.clone()].concat())
        }),
        bytes(5).prop_map(|b| [vec![0x04], b].concat()),
        bytes(9).prop_map(|b| [vec![0x05], b].concat()),
        bytes(14).prop_map(|b| [vec![0x06], b].concat()),
        (bytes(5), proptest::collection::vec(count8.clone(), 4)).prop_flat_map(|(h, counts)| {
            let total: usize = counts.iter().map(|&c| if c >= 0xFE { 0 } else { 4 * c as usize }).sum();
            bytes(total).prop_map(move |codes| {
                let mut out = vec![0x07];
                out.extend(&h);
                let mut codes = codes.as_slice();
                for &c in &counts {
                    out.push(c);
                    let n = if c >= 0xFE { 0 } else { 4 * c as usize };
                    out.extend(&codes[..n]);
                    codes = &codes[n..];
                }
                out
            })
        }),
        proptest::collection::vec((bytes(9), 0u8..8), 0..4).prop_flat_map(|subs| {
            let n = subs.len();
            let cells: usize = subs.iter().map(|(_, m)| 2 * *m as usize).sum();
            bytes(cells).prop_map(move |c| {
                let mut out = vec![0x08, n as u8];
                let mut c = c.as_slice();
                for (head, m) in &subs {
                    out.extend(head);
                    out.push(*m);
                    out.extend(&c[..2 * *m as usize]);
                    c = &c[2 * *m as usize..];
                }
                out
            })
        }),
        proptest::collection::vec((any::<u8>(), count16), 0..4).prop_flat_map(|subs| {
            let n = subs.len();
            let probes: usize = subs
                .iter()
                .map(|(_, p)| if *p >= 0xFFFE { 0 } else { *p as usize })
                .sum();
            bytes(probes).prop_map(move |t| {
                let mut out = vec![0x09, n as u8];
                let mut t = t.as_slice();
                for (no, p) in &subs {
                    out.push(*no);
                    out.extend(p.to_be_bytes());
                    let k = if *p >= 0xFFFE { 0 } else { *p as usize };
                    out.extend(&t[..k]);
                    t = &t[k..];
                }
                out
            })
        }),
        (0x80u8..=0xFE, proptest::collection::vec(any::<u8>(), 0..40)).prop_map(|(t, d)| [
            vec![t],
            (d.len() as u16).to_be_bytes().to_vec(),
            d
        ]
        .concat()),
    ]
}

fn realtime_data() -> impl Strategy<Value = Vec<u8>> {
    (
        proptest::collection::vec(any::<u8>(), 6),
        proptest::collection::vec(block(), 0..8),
        prop_oneof![4 => Just(None), 1 => (0x0Au8..0x80, proptest::collection::vec(any::<u8>(), 0..20)).prop_map(Some)],
    )
        .prop_map(|(time, blocks, tail)| {
            let mut d = time;
            for b in blocks {
                d.extend(b);
            }
            if let Some((t, rest)) = tail {
                d.push(t);
                d.extend(rest);
            }
            d
        })
}

fn assert_round_trip(bytes: &[u8]) -> Result<(), TestCaseError> {
    if let Ok(f) = Frame::parse(bytes) {
        let mut out = vec![0u8; f.wire_len()];
        let n = f
            .emit(&mut out)
            .map_err(|e| TestCaseError::fail(format!("emit failed: {e}")))?;
        prop_assert_eq!(&out[..n], bytes);
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..400)) {
        let _ = Frame::parse(&bytes);
        let _ = RawFrame::parse_prefix(&bytes);
    }

    #[test]
    fn arbitrary_data_units_of_every_command_never_panic_and_round_trip(
        start in prop_oneof![Just(*b"##"), Just(*b"$$")],
        command in prop_oneof![1u8..=0x0B, 0x80u8..=0x82, any::<u8>()],
        response in prop_oneof![Just(0xFEu8), 1u8..=7],
        enc in prop_oneof![4 => Just(1u8), 1 => any::<u8>()],
        data in proptest::collection::vec(any::<u8>(), 0..120),
    ) {
        assert_round_trip(&frame(&start, command, response, enc, &data))?;
    }

    /// The T-Box's decoder (terminal-bound frames only) agrees with the full one on every
    /// frame a terminal takes and calls everything else `Other`.
    #[test]
    fn the_downlink_parser_agrees_with_the_full_one(
        start in prop_oneof![Just(*b"##"), Just(*b"$$")],
        command in prop_oneof![1u8..=0x0B, 0x80u8..=0x82, any::<u8>()],
        response in prop_oneof![Just(0xFEu8), 1u8..=7],
        enc in prop_oneof![4 => Just(1u8), 1 => any::<u8>()],
        data in proptest::collection::vec(any::<u8>(), 0..120),
    ) {
        let f = frame(&start, command, response, enc, &data);
        let Ok(raw) = RawFrame::parse(&f) else { return Ok(()) };
        let full = Body::parse(&raw.header, raw.data);
        let down = Body::parse_downlink(&raw.header, raw.data);
        let h = raw.header;
        let terminal_bound = !h.response.is_command()
            || h.encryption.is_encrypted(h.edition) && !raw.data.is_empty()
            || matches!(h.command.0, 0x80..=0x82)
            || (h.edition == Edition::V2025 && matches!(h.command.0, 0x0A | 0x0B));
        if terminal_bound {
            prop_assert_eq!(down, full);
        } else {
            prop_assert_eq!(down, Ok(Body::Other(raw.data)));
        }
    }

    #[test]
    fn structured_realtime_reports_parse_and_round_trip(command in 2u8..=3, data in realtime_data()) {
        let f = frame(b"##", command, 0xFE, 1, &data);
        let parsed = Frame::parse(&f);
        prop_assert!(parsed.is_ok(), "{:?}", parsed.err());
        assert_round_trip(&f)?;
    }

    #[test]
    fn every_truncation_is_a_typed_error(data in realtime_data(), cut in any::<prop::sample::Index>()) {
        let f = frame(b"##", 2, 0xFE, 1, &data);
        let n = cut.index(f.len());
        match RawFrame::parse(&f[..n]) {
            Err(Error::Truncated { needed }) => prop_assert!(needed >= 1),
            other => prop_assert!(false, "prefix of {} bytes gave {:?}", n, other),
        }
    }

    #[test]
    fn a_flipped_bit_is_always_caught(data in realtime_data(), at in any::<prop::sample::Index>(), bit in 0u8..8) {
        let mut f = frame(b"##", 2, 0xFE, 1, &data);
        let i = 2 + at.index(f.len() - 2); // past the start symbol
        f[i] ^= 1 << bit;
        prop_assert!(Frame::parse(&f).is_err());
    }

    #[test]
    fn deframer_finds_every_frame_between_garbage_in_any_chunking(
        frames in proptest::collection::vec((realtime_data(), proptest::collection::vec(any::<u8>().prop_filter("no start bytes", |b| *b != b'#' && *b != b'$'), 0..30)), 1..12),
        chunk in 1usize..300,
    ) {
        let mut stream = Vec::new();
        let mut expected = Vec::new();
        for (data, garbage) in &frames {
            stream.extend(garbage);
            let f = frame(b"##", 2, 0xFE, 1, data);
            stream.extend(&f);
            expected.push(f);
        }
        let garbage = frames.iter().map(|(_, g)| g.len()).sum::<usize>();
        let mut fixed: Box<Deframer<8192>> = Box::default();
        let (got, dropped) = deframe_all(&mut fixed, &stream, chunk);
        prop_assert_eq!(&got, &expected);
        prop_assert_eq!(dropped, garbage);
        // The gateway's growable buffer, starting smaller than most frames, finds the same.
        #[cfg(feature = "alloc")]
        {
            let mut growable = GrowableDeframer::with_buffer(GrowableBuffer::new(32, 8192));
            let (got, dropped) = deframe_all(&mut growable, &stream, chunk);
            prop_assert_eq!(&got, &expected);
            prop_assert_eq!(dropped, garbage);
        }
    }

    #[test]
    fn deframer_never_panics_or_overflows(stream in proptest::collection::vec(prop_oneof![3 => any::<u8>(), 1 => Just(b'#'), 1 => Just(b'$')], 0..3000), chunk in 1usize..500) {
        let mut d: Box<Deframer<512>> = Box::default();
        for piece in stream.chunks(chunk) {
            let mut piece = piece;
            while !piece.is_empty() {
                let n = d.feed(piece);
                prop_assert!(n > 0, "feed must make progress after poll drained");
                piece = &piece[n..];
                while d.poll().is_some() {}
                prop_assert!(d.buffered() <= 512);
            }
        }
        #[cfg(feature = "alloc")]
        {
            let mut g = GrowableDeframer::with_buffer(GrowableBuffer::new(26, 512));
            for piece in stream.chunks(chunk) {
                let mut piece = piece;
                while !piece.is_empty() {
                    let n = g.feed(piece);
                    prop_assert!(n > 0, "feed must make progress after poll drained");
                    piece = &piece[n..];
                    while g.poll().is_some() {}
                    prop_assert!(g.capacity() <= 512);
                }
            }
        }
    }
}

/// Every frame's bytes and the number of bytes discarded, feeding `stream` in `chunk`s.
fn deframe_all<B: DeframeBuffer>(d: &mut BufferedDeframer<B>, stream: &[u8], chunk: usize) -> (Vec<Vec<u8>>, usize) {
    let mut got = Vec::new();
    let mut dropped = 0;
    for piece in stream.chunks(chunk) {
        let mut piece = piece;
        while !piece.is_empty() {
            let n = d.feed(piece);
            piece = &piece[n..];
            while let Some(ev) = d.poll() {
                match ev {
                    Event::Frame { bytes, .. } => got.push(bytes.to_vec()),
                    Event::Discarded(x) => dropped += x.len,
                }
            }
        }
    }
    (got, dropped)
}
