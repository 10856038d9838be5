//! Deframer + decoder over arbitrary bytes: no panic, no hang, and every frame that decodes
//! re-emits byte for byte and serialises to JSON.
#![no_main]

use gb32960_core::frame::{Deframer, Event};
use gb32960_core::Frame;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    // Chunk sizes come from the first byte so the fuzzer explores split points too.
    let chunk = usize::from(data.first().copied().unwrap_or(1)).max(1);
    let mut d: Box<Deframer<4096>> = Box::default();
    let mut out = vec![0u8; 70_000];
    for mut piece in data.chunks(chunk) {
        while !piece.is_empty() {
            let n = d.feed(piece);
            assert!(n > 0);
            piece = &piece[n..];
            while let Some(ev) = d.poll() {
                if let Event::Frame { bytes, frame } = ev {
                    if let Ok(f) = Frame::decode(&frame) {
                        let n = f.emit(&mut out).expect("a decoded frame re-encodes");
                        assert_eq!(&out[..n], bytes);
                        serde_json::to_string(&f).expect("serialises");
                    }
                }
            }
        }
    }
    // The same bytes as one frame.
    if let Ok(f) = Frame::parse(data) {
        let n = f.emit(&mut out).expect("a decoded frame re-encodes");
        assert_eq!(&out[..n], data);
    }
});
