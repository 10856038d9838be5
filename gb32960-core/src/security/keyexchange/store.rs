//! Where exchanged data-unit keys go: the [`KeyStore`] hook and the fixed-capacity
//! [`MemoryKeyStore`].

use core::fmt;

use crate::frame::Encryption;
use crate::message::KeyExchange;
use crate::security::{Error, Result};
use crate::wire::Time;

/// A data-unit key as a [`KeyStore`] hands it out.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct DataUnitKey<'a> {
    /// Key type (0x02 RSA, 0x03 AES, 0x04 SM2, 0x05 SM4: the header's encryption codes).
    pub key_type: Encryption,
    /// The key bytes as exchanged.
    pub key: &'a [u8],
    /// Valid from (inclusive).
    pub valid_from: Time,
    /// Valid until (inclusive).
    pub valid_until: Time,
}

impl fmt::Debug for DataUnitKey<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DataUnitKey")
            .field("key_type", &self.key_type)
            .field("key_len", &self.key.len())
            .field("valid_from", &self.valid_from)
            .field("valid_until", &self.valid_until)
            .finish()
    }
}

impl DataUnitKey<'_> {
    /// Whether `now` lies in the validity window (both ends inclusive).
    pub fn is_valid_at(&self, now: Time) -> bool {
        self.valid_from <= now && now <= self.valid_until
    }

    /// The AES or SM4 cipher for this key.
    #[cfg(any(feature = "aes", feature = "sm4"))]
    pub fn cipher(&self, config: crate::security::BlockCipherConfig) -> Result<crate::security::BlockCipher> {
        crate::security::BlockCipher::new(self.key_type, self.key, config)
    }
}

/// Where exchanged data-unit keys go and are found again, per vehicle (VIN) and key type.
/// A platform backs it with its database; [`MemoryKeyStore`] is a fixed-capacity one.
pub trait KeyStore {
    /// The key of type `encryption` for `vin`, if any.
    fn data_unit_key(&self, vin: &[u8; 17], encryption: Encryption) -> Option<DataUnitKey<'_>>;

    /// Stores (or replaces) the key a 0x0B exchange carries for `vin`.
    fn store(&mut self, vin: &[u8; 17], exchange: &KeyExchange<'_>) -> Result<()>;
}

struct Slot<const K: usize> {
    vin: [u8; 17],
    key_type: Encryption,
    len: usize,
    key: [u8; K],
    valid_from: Time,
    valid_until: Time,
}

impl<const K: usize> Drop for Slot<K> {
    fn drop(&mut self) {
        use zeroize::Zeroize;
        self.key.zeroize();
    }
}

impl<const K: usize> Slot<K> {
    fn view(&self) -> DataUnitKey<'_> {
        DataUnitKey {
            key_type: self.key_type,
            key: &self.key[..self.len],
            valid_from: self.valid_from,
            valid_until: self.valid_until,
        }
    }
}

/// A [`KeyStore`] in a fixed array: `N` keys of at most `K` bytes (32 by default, enough for
/// AES-256 and SM4), no allocation. Key bytes are zeroed when replaced or dropped.
pub struct MemoryKeyStore<const N: usize, const K: usize = 32> {
    slots: [Option<Slot<K>>; N],
}

impl<const N: usize, const K: usize> fmt::Debug for MemoryKeyStore<N, K> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MemoryKeyStore")
            .field("capacity", &N)
            .field("len", &self.len())
            .finish_non_exhaustive()
    }
}

impl<const N: usize, const K: usize> Default for MemoryKeyStore<N, K> {
    fn default() -> Self {
        Self::new()
    }
}

impl<const N: usize, const K: usize> MemoryKeyStore<N, K> {
    /// An empty store.
    pub const fn new() -> Self {
        MemoryKeyStore {
            slots: [const { None }; N],
        }
    }

    /// Keys stored.
    pub fn len(&self) -> usize {
        self.slots.iter().filter(|s| s.is_some()).count()
    }

    /// Whether no key is stored.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The key of type `encryption` for `vin` if `now` is inside its validity window.
    pub fn data_unit_key_at(&self, vin: &[u8; 17], encryption: Encryption, now: Time) -> Option<DataUnitKey<'_>> {
        self.data_unit_key(vin, encryption).filter(|k| k.is_valid_at(now))
    }

    /// Removes every key of `vin`; returns how many there were.
    pub fn remove(&mut self, vin: &[u8; 17]) -> usize {
        let mut n = 0;
        for s in &mut self.slots {
            if s.as_ref().is_some_and(|s| &s.vin == vin) {
                *s = None;
                n += 1;
            }
        }
        n
    }

    /// Removes every key whose validity ended before `now`; returns how many.
    pub fn remove_expired(&mut self, now: Time) -> usize {
        let mut n = 0;
        for s in &mut self.slots {
            if s.as_ref().is_some_and(|s| s.valid_until < now) {
                *s = None;
                n += 1;
            }
        }
        n
    }
}

impl<const N: usize, const K: usize> KeyStore for MemoryKeyStore<N, K> {
    fn data_unit_key(&self, vin: &[u8; 17], encryption: Encryption) -> Option<DataUnitKey<'_>> {
        self.slots
            .iter()
            .flatten()
            .find(|s| &s.vin == vin && s.key_type == encryption)
            .map(Slot::view)
    }

    fn store(&mut self, vin: &[u8; 17], exchange: &KeyExchange<'_>) -> Result<()> {
        if !matches!(exchange.key_type.0, 0x02..=0x05) {
            return Err(Error::Unsupported);
        }
        let len = exchange.key.len();
        if len > K {
            return Err(Error::KeyTooLong { len, max: K });
        }
        let same = |s: &Option<Slot<K>>| {
            s.as_ref()
                .is_some_and(|s| &s.vin == vin && s.key_type == exchange.key_type)
        };
        let at = match self.slots.iter().position(same) {
            Some(i) => i,
            None => self.slots.iter().position(Option::is_none).ok_or(Error::KeyStoreFull)?,
        };
        let mut key = [0u8; K];
        key[..len].copy_from_slice(exchange.key);
        self.slots[at] = Some(Slot {
            vin: *vin,
            key_type: exchange.key_type,
            len,
            key,
            valid_from: exchange.valid_from,
            valid_until: exchange.valid_until,
        });
        Ok(())
    }
}

impl<T: KeyStore + ?Sized> KeyStore for &mut T {
    fn data_unit_key(&self, vin: &[u8; 17], encryption: Encryption) -> Option<DataUnitKey<'_>> {
        (**self).data_unit_key(vin, encryption)
    }

    fn store(&mut self, vin: &[u8; 17], exchange: &KeyExchange<'_>) -> Result<()> {
        (**self).store(vin, exchange)
    }
}

#[cfg(test)]
#[allow(unused_imports, dead_code)] // helpers unused by some feature subsets
mod tests {
    extern crate std;

    use super::*;

    fn exchange(key_type: u8, key: &[u8]) -> KeyExchange<'_> {
        KeyExchange {
            key_type: Encryption(key_type),
            key,
            valid_from: Time::new(2025, 1, 1, 0, 0, 0),
            valid_until: Time::new(2025, 12, 31, 23, 59, 59),
        }
    }

    #[test]
    fn memory_key_store() {
        let mut store: MemoryKeyStore<2, 16> = MemoryKeyStore::new();
        let a = *b"VIN00000000000001";
        let b = *b"VIN00000000000002";
        let c = *b"VIN00000000000003";
        assert!(store.is_empty());
        store.store(&a, &exchange(0x05, &[1; 16])).unwrap();
        store.store(&a, &exchange(0x05, &[2; 16])).unwrap(); // replaces
        assert_eq!(store.len(), 1);
        assert_eq!(store.data_unit_key(&a, Encryption::SM4).unwrap().key, &[2; 16]);
        assert!(store.data_unit_key(&a, Encryption::AES).is_none());
        store.store(&b, &exchange(0x03, &[3; 16])).unwrap();
        assert_eq!(store.store(&c, &exchange(0x03, &[4; 16])), Err(Error::KeyStoreFull));
        assert_eq!(
            store.store(&c, &exchange(0x03, &[4; 32])),
            Err(Error::KeyTooLong { len: 32, max: 16 })
        );
        assert_eq!(store.store(&c, &exchange(0x01, &[4; 16])), Err(Error::Unsupported));
        let mid = Time::new(2025, 6, 1, 0, 0, 0);
        assert!(store.data_unit_key_at(&b, Encryption::AES, mid).is_some());
        assert!(store
            .data_unit_key_at(&b, Encryption::AES, Time::new(2026, 1, 1, 0, 0, 0))
            .is_none());
        assert_eq!(store.remove(&a), 1);
        assert_eq!(store.remove_expired(Time::new(2026, 1, 1, 0, 0, 0)), 1);
        assert!(store.is_empty());
        let s = std::format!("{:?}", store.data_unit_key(&a, Encryption::SM4));
        assert_eq!(s, "None");
    }
}
