//! PEM as tools write it, brought to the strict form the RustCrypto readers take.
//!
//! The key parsers (`pem-rfc7468`) accept only RFC 7468's strict form: base64 wrapped at exactly
//! 64 columns. Many tools write or accept other widths (Python's `base64.encodebytes` wraps at
//! 76, some writers put everything on one line), and OpenSSL's `ec` writes SEC1 SM2 keys as
//! `SM2 PRIVATE KEY`, the same structure as `EC PRIVATE KEY`. Every `from_pem` here reads its
//! input through [`normalize`] first.

extern crate alloc;

use alloc::string::String;
use alloc::vec::Vec;

/// The PEM blocks of `text` with their base64 re-wrapped at 64 columns and `SM2 PRIVATE KEY`
/// labels read as `EC PRIVATE KEY`. Text outside BEGIN/END lines (comments, `Proc-Type`
/// preambles of other formats) is dropped.
pub fn normalize(text: &str) -> String {
    let label = |line: &str| line.replace("SM2 PRIVATE KEY", "EC PRIVATE KEY");
    let mut out = String::with_capacity(text.len());
    let mut body: Option<Vec<u8>> = None;
    for line in text.lines().map(str::trim) {
        let boundary = line.ends_with("-----");
        if boundary && line.starts_with("-----BEGIN ") {
            out.push_str(&label(line));
            out.push('\n');
            body = Some(Vec::new());
        } else if boundary && line.starts_with("-----END ") {
            for chunk in body.take().unwrap_or_default().chunks(64) {
                // Only ASCII base64 characters were kept, so each chunk is valid UTF-8.
                out.push_str(core::str::from_utf8(chunk).unwrap_or_default());
                out.push('\n');
            }
            out.push_str(&label(line));
            out.push('\n');
        } else if let Some(b) = &mut body {
            b.extend(line.bytes().filter(|c| c.is_ascii_graphic()));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rewraps_and_relabels() {
        let b64: String = core::iter::repeat_n('A', 150).collect();
        let text = alloc::format!(
            "junk before\n-----BEGIN SM2 PRIVATE KEY-----\n{}\n  {}\n-----END SM2 PRIVATE KEY-----\n",
            &b64[..76],
            &b64[76..]
        );
        let n = normalize(&text);
        let lines: Vec<&str> = n.lines().collect();
        assert_eq!(lines[0], "-----BEGIN EC PRIVATE KEY-----");
        assert_eq!(lines[1].len(), 64);
        assert_eq!(lines[2].len(), 64);
        assert_eq!(lines[3].len(), 22);
        assert_eq!(lines[4], "-----END EC PRIVATE KEY-----");
        assert_eq!(lines.len(), 5);
    }
}
