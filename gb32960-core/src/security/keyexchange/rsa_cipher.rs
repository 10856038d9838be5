//! RSA PKCS#1 v1.5 encryption of data units, segmented into modulus-sized blocks; needs `alloc`.

extern crate alloc;

use core::cell::RefCell;
use core::fmt;

use super::NoRng;
use crate::frame::Encryption;
use crate::security::cipher::DataUnitCipher;
use crate::security::{Error, Result};

/// RSA PKCS#1 v1.5 encryption of data units (header 0x02), for 0x0B key exchanges; needs
/// `alloc`. `R` pads (encryption) and blinds (decryption).
#[cfg(feature = "rsa")]
pub struct RsaCipher<R = NoRng> {
    own: Option<rsa::PrivateKey>,
    peer: Option<rsa::PublicKey>,
    rng: RefCell<R>,
}

#[cfg(feature = "rsa")]
impl<R> fmt::Debug for RsaCipher<R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RsaCipher")
            .field("decrypts", &self.own.is_some())
            .field("encrypts", &self.peer.is_some())
            .finish_non_exhaustive()
    }
}

#[cfg(feature = "rsa")]
impl<R: rand_core::TryCryptoRng> RsaCipher<R> {
    /// A cipher with our private key (to decrypt) and/or the peer's public key (to encrypt).
    pub fn new(own: Option<rsa::PrivateKey>, peer: Option<rsa::PublicKey>, rng: R) -> Self {
        RsaCipher {
            own,
            peer,
            rng: RefCell::new(rng),
        }
    }
}

#[cfg(feature = "rsa")]
impl<R: rand_core::TryCryptoRng> DataUnitCipher for RsaCipher<R> {
    fn encryption(&self) -> Encryption {
        Encryption::RSA
    }

    fn ciphertext_len(&self, plaintext_len: usize) -> usize {
        use rsa::traits::PublicKeyParts;
        match &self.peer {
            Some(k) if k.size() > 11 => plaintext_len.div_ceil(k.size() - 11) * k.size(),
            _ => 0,
        }
    }

    fn encrypt(&self, buf: &mut [u8], plaintext_len: usize) -> Result<usize> {
        use alloc::vec::Vec;
        use rsa::traits::PublicKeyParts;
        let peer = self.peer.as_ref().ok_or(Error::InvalidKey)?;
        let k = peer.size();
        if k <= 11 || plaintext_len > buf.len() {
            return Err(Error::Encrypt);
        }
        let total = self.ciphertext_len(plaintext_len);
        if buf.len() < total {
            return Err(Error::BufferTooSmall { needed: total });
        }
        let mut rng = self.rng.try_borrow_mut().map_err(|_| Error::Rng)?;
        let mut out = Vec::with_capacity(total);
        for chunk in buf[..plaintext_len].chunks(k - 11) {
            let block = peer
                .pkcs1v15_encrypt_with_rng(&mut *rng, chunk)
                .map_err(|_| Error::Encrypt)?;
            out.extend_from_slice(&block);
        }
        buf[..out.len()].copy_from_slice(&out);
        Ok(out.len())
    }

    fn decrypt(&self, buf: &mut [u8]) -> Result<usize> {
        use alloc::vec::Vec;
        use rsa::traits::PublicKeyParts;
        let own = self.own.as_ref().ok_or(Error::InvalidKey)?;
        let k = own.size();
        if buf.is_empty() || !buf.len().is_multiple_of(k) {
            return Err(Error::Decrypt);
        }
        let mut rng = self.rng.try_borrow_mut().map_err(|_| Error::Rng)?;
        let mut out = Vec::with_capacity(buf.len());
        for block in buf.chunks(k) {
            let m = own
                .pkcs1v15_decrypt_with_rng(&mut *rng, block)
                .map_err(|_| Error::Decrypt)?;
            out.extend_from_slice(&m);
        }
        buf[..out.len()].copy_from_slice(&out);
        Ok(out.len())
    }
}

#[cfg(test)]
#[allow(unused_imports, dead_code)] // helpers unused by some feature subsets
mod tests {
    extern crate std;
    use std::vec::Vec;

    use super::*;
    use crate::security::testutil::*;

    #[cfg(feature = "rsa")]
    #[test]
    fn rsa_data_unit_encryption_is_segmented() {
        let key = rsa_key();
        let c = RsaCipher::new(Some(key.clone()), Some(key.to_public_key()), rng());
        for n in [1usize, 31, 245, 246, 600] {
            let plain: Vec<u8> = (0..n).map(|i| i as u8).collect();
            let mut buf = plain.clone();
            let total = c.ciphertext_len(n);
            assert_eq!(total, n.div_ceil(245) * 256);
            buf.resize(total, 0);
            assert_eq!(c.encrypt(&mut buf, n).unwrap(), total);
            let k = c.decrypt(&mut buf).unwrap();
            assert_eq!(&buf[..k], &plain[..]);
        }
        assert_eq!(c.decrypt(&mut [0u8; 255]), Err(Error::Decrypt));
        let no_peer = RsaCipher::new(Some(key), None, NoRng);
        assert_eq!(no_peer.encrypt(&mut [0u8; 300], 10), Err(Error::InvalidKey));
    }
}
