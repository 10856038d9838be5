//! Store-and-forward: where a terminal keeps reports while it cannot send them (B.2.8).

use super::Bytes;

/// The store was full; the oldest report was dropped to make room (the caller counts it).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum PushError {
    /// The report is larger than a slot of this store.
    TooLarge,
    /// The store is full.
    Full,
}

/// A bounded store of report data units (time and blocks, signed when the edition signs),
/// oldest first. The firmware backs it with flash, the host with memory or disk.
pub trait ReissueStore {
    /// Appends a report.
    fn push(&mut self, data_unit: &[u8]) -> Result<(), PushError>;
    /// Copies the oldest report into `buf` and returns its length (`None` when empty or when
    /// `buf` is too small).
    fn peek_oldest(&self, buf: &mut [u8]) -> Option<usize>;
    /// Removes the oldest report.
    fn pop_oldest(&mut self);
    /// Number of reports held.
    fn len(&self) -> usize;
    /// Whether the store is empty.
    fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// A store borrowed for the machine's lifetime (one in a `static`, say) is a store.
impl<S: ReissueStore + ?Sized> ReissueStore for &mut S {
    fn push(&mut self, data_unit: &[u8]) -> Result<(), PushError> {
        (**self).push(data_unit)
    }
    fn peek_oldest(&self, buf: &mut [u8]) -> Option<usize> {
        (**self).peek_oldest(buf)
    }
    fn pop_oldest(&mut self) {
        (**self).pop_oldest()
    }
    fn len(&self) -> usize {
        (**self).len()
    }
}

/// An in-memory store of up to `SLOTS` reports of at most `SLOT` bytes each, no allocator.
#[derive(Debug, Default)]
pub struct MemoryStore<const SLOTS: usize, const SLOT: usize> {
    items: heapless::Deque<Bytes<SLOT>, SLOTS>,
}

impl<const SLOTS: usize, const SLOT: usize> MemoryStore<SLOTS, SLOT> {
    /// An empty store.
    pub const fn new() -> Self {
        MemoryStore {
            items: heapless::Deque::new(),
        }
    }
}

impl<const SLOTS: usize, const SLOT: usize> ReissueStore for MemoryStore<SLOTS, SLOT> {
    fn push(&mut self, data_unit: &[u8]) -> Result<(), PushError> {
        let item = Bytes::from_slice(data_unit).map_err(|_| PushError::TooLarge)?;
        self.items.push_back(item).map_err(|_| PushError::Full)
    }

    fn peek_oldest(&self, buf: &mut [u8]) -> Option<usize> {
        let item = self.items.front()?;
        buf.get_mut(..item.len())?.copy_from_slice(item);
        Some(item.len())
    }

    fn pop_oldest(&mut self) {
        self.items.pop_front();
    }

    fn len(&self) -> usize {
        self.items.len()
    }
}
