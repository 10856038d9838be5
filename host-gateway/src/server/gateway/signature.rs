//! Checking the signatures of 2025 reports against the key each vehicle activated with.
//!
//! A 2025 terminal signs every real-time and reissue report (0x02/0x03) with the private key
//! whose public half it sent in its activation (0x09); the gateway stored that key in the
//! device's metadata (`activation.public_key`, `activation.signature_algorithm`). A report whose
//! signature does not verify is answered with 0x05 (signature verification failed, notes 2025
//! §3.2) and not stored: the terminal sends it again. A vehicle that never activated has no key:
//! its reports are stored and marked `no_key`.

use std::collections::HashMap;
use std::sync::Arc;

use gb32960_core::security::{verify_frame, Verification, VerifyingKey};
use gb32960_core::signature::SignatureAlgorithm;
use gb32960_core::{Edition, RawFrame};

use super::Ctx;

/// What the check found, as the stored JSON's `signature_check` says it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Check {
    /// The report carries no signature (2016, or a 2025 frame without one).
    Unsigned,
    Valid,
    Invalid,
    /// The vehicle has not activated: no key to check with.
    NoKey,
    /// The signature type is reserved or not compiled in.
    Unsupported,
}

impl Check {
    pub fn as_str(self) -> &'static str {
        match self {
            Check::Unsigned => "unsigned",
            Check::Valid => "valid",
            Check::Invalid => "invalid",
            Check::NoKey => "no_key",
            Check::Unsupported => "unsupported",
        }
    }
}

/// The activated keys of the vehicles on one link, read from the store once each.
#[derive(Default)]
pub struct Keys {
    keys: HashMap<String, Option<Arc<VerifyingKey>>>,
}

impl Keys {
    /// Forgets `vin`'s key (it has just activated, perhaps with a new one).
    pub fn forget(&mut self, vin: &str) {
        self.keys.remove(vin);
    }

    /// Checks the signature of the report `bytes` from `vin`.
    pub async fn check(&mut self, ctx: &Ctx, vin: &str, bytes: &[u8]) -> Check {
        let Ok(raw) = RawFrame::parse(bytes) else {
            return Check::Invalid;
        };
        // Only 2025 reports are signed: a 2016 link never touches the store for a key.
        if raw.header.edition != Edition::V2025 {
            return Check::Unsigned;
        }
        let key = match self.keys.get(vin) {
            Some(k) => k.clone(),
            None => {
                let k = load(ctx, vin).await.map(Arc::new);
                self.keys.insert(vin.to_string(), k.clone());
                k
            }
        };
        // One verification: without a key a signed report gives NoKey, an unsigned one None.
        match verify_frame(&raw, key.as_deref()) {
            None => Check::Unsigned,
            Some(Verification::Valid) => Check::Valid,
            Some(Verification::Invalid) => Check::Invalid,
            Some(Verification::NoKey) => Check::NoKey,
            Some(Verification::Unsupported) => Check::Unsupported,
        }
    }
}

/// The key `vin` activated with, if any (a store error counts as none, logged).
async fn load(ctx: &Ctx, vin: &str) -> Option<VerifyingKey> {
    let store = ctx.store.clone();
    let v = vin.to_string();
    let device = match tokio::task::spawn_blocking(move || store.device(&v)).await {
        Ok(Ok(d)) => d?,
        Ok(Err(e)) => {
            tracing::warn!(%vin, error = %e, "cannot read the device's activation key");
            return None;
        }
        Err(_) => return None,
    };
    let activation = device.metadata.as_ref()?.get("activation")?;
    let algorithm = u8::try_from(activation.get("signature_algorithm")?.as_u64()?).ok()?;
    let key = hex::decode(activation.get("public_key")?.as_str()?).ok()?;
    match VerifyingKey::from_wire(SignatureAlgorithm(algorithm), &key) {
        Ok(k) => Some(k),
        Err(e) => {
            tracing::warn!(%vin, error = %e, "the stored activation key does not load");
            None
        }
    }
}
