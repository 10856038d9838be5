//! A bounds-checked cursor for emitting into a caller's buffer.

use crate::error::{Error, Result};

/// Writes big-endian fields into a caller-provided buffer, failing (never panicking) when the
/// buffer is too small.
#[derive(Debug)]
pub struct Writer<'b> {
    buf: &'b mut [u8],
    pos: usize,
}

impl<'b> Writer<'b> {
    /// A writer at the start of `buf`.
    pub fn new(buf: &'b mut [u8]) -> Self {
        Writer { buf, pos: 0 }
    }

    /// Bytes written so far.
    pub fn position(&self) -> usize {
        self.pos
    }

    /// The next `n` bytes of the buffer, advancing past them.
    pub fn reserve(&mut self, n: usize) -> Result<&mut [u8]> {
        let end = self
            .pos
            .checked_add(n)
            .ok_or(Error::BufferTooSmall { needed: usize::MAX })?;
        if end > self.buf.len() {
            return Err(Error::BufferTooSmall { needed: end });
        }
        let s = &mut self.buf[self.pos..end];
        self.pos = end;
        Ok(s)
    }

    /// Appends bytes.
    pub fn bytes(&mut self, b: &[u8]) -> Result<()> {
        self.reserve(b.len())?.copy_from_slice(b);
        Ok(())
    }

    /// Appends a BYTE.
    pub fn u8(&mut self, v: u8) -> Result<()> {
        self.bytes(&[v])
    }

    /// Appends a big-endian WORD.
    pub fn u16(&mut self, v: u16) -> Result<()> {
        self.bytes(&v.to_be_bytes())
    }

    /// Appends a big-endian DWORD.
    pub fn u32(&mut self, v: u32) -> Result<()> {
        self.bytes(&v.to_be_bytes())
    }

    /// The bytes written so far.
    pub fn written(&self) -> &[u8] {
        &self.buf[..self.pos]
    }

    /// The whole underlying buffer, for fix-ups of earlier fields (lengths, checksums).
    pub fn buffer_mut(&mut self) -> &mut [u8] {
        self.buf
    }
}
