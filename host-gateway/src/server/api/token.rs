//! The admin API's bearer token: given by flag/config (kept in memory), or generated at first
//! start, printed once, and stored as an argon2 hash.

use std::sync::Mutex;

use anyhow::{anyhow, Result};
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::Argon2;
use rand::Rng;

use crate::server::store::Store;

const META_KEY: &str = "api_token_argon2";

/// Checks presented tokens.
pub struct TokenCheck {
    plain: Option<String>,
    hash: Option<String>,
    /// The last token that verified against the hash (argon2 is slow on purpose).
    verified: Mutex<Option<String>>,
}

fn ct_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

impl TokenCheck {
    /// The configured token, or the stored hash; a new token is generated, its hash stored,
    /// and the token returned as the second value (for printing once).
    pub fn load(configured: Option<&str>, store: &dyn Store) -> Result<(TokenCheck, Option<String>)> {
        if let Some(t) = configured {
            return Ok((
                TokenCheck {
                    plain: Some(t.to_string()),
                    hash: None,
                    verified: Mutex::new(None),
                },
                None,
            ));
        }
        if let Some(hash) = store.meta_get(META_KEY)? {
            PasswordHash::new(&hash).map_err(|e| anyhow!("stored API token hash: {e}"))?;
            return Ok((
                TokenCheck {
                    plain: None,
                    hash: Some(hash),
                    verified: Mutex::new(None),
                },
                None,
            ));
        }
        let mut bytes = [0u8; 24];
        rand::rng().fill(&mut bytes);
        let token = hex::encode(bytes);
        let mut salt = [0u8; 16];
        rand::rng().fill(&mut salt);
        let salt = SaltString::encode_b64(&salt).map_err(|e| anyhow!("{e}"))?;
        let hash = Argon2::default()
            .hash_password(token.as_bytes(), &salt)
            .map_err(|e| anyhow!("hashing the API token: {e}"))?
            .to_string();
        store.meta_set(META_KEY, &hash)?;
        Ok((
            TokenCheck {
                plain: None,
                hash: Some(hash),
                verified: Mutex::new(None),
            },
            Some(token),
        ))
    }

    pub fn verify(&self, token: &str) -> bool {
        if let Some(p) = &self.plain {
            return ct_eq(p.as_bytes(), token.as_bytes());
        }
        let Some(hash) = &self.hash else { return false };
        {
            let v = self.verified.lock().unwrap_or_else(|e| e.into_inner());
            if let Some(v) = v.as_deref() {
                if ct_eq(v.as_bytes(), token.as_bytes()) {
                    return true;
                }
            }
        }
        let ok = PasswordHash::new(hash)
            .map(|h| Argon2::default().verify_password(token.as_bytes(), &h).is_ok())
            .unwrap_or(false);
        if ok {
            *self.verified.lock().unwrap_or_else(|e| e.into_inner()) = Some(token.to_string());
        }
        ok
    }
}
