//! Secrets the server must read back (a second factor's seed; the exports' and alerts'
//! credentials to come) are stored sealed: XChaCha20-Poly1305 under a key that never enters
//! the database. The key is derived (HKDF-SHA256, its own label) from the log's signing key
//! file, so the database role, a dump or a replica holds only ciphertext, and one file is
//! backed up for both. Each sealed value is bound to what it belongs to (`context`, e.g. the
//! user's id): a sealed seed copied onto another account does not open there.
//!
//! Layout: version byte `1`, 24-byte random nonce, ciphertext with its 16-byte tag.

use chacha20poly1305::{
    aead::{Aead, KeyInit, Payload},
    Key, XChaCha20Poly1305, XNonce,
};
use rand_core::{OsRng, RngCore};
use sha2::Sha256;

const VERSION: u8 = 1;
const NONCE: usize = 24;

/// The key that seals and opens. `Debug` never shows it.
#[derive(Clone)]
pub struct SealKey([u8; 32]);

impl std::fmt::Debug for SealKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SealKey(…)")
    }
}

/// Why a sealed value did not open: another key sealed it, another context owns it, or it
/// was altered. Which of these is not said.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("a sealed secret did not open (another key file, another owner, or altered)")]
pub struct Unsealable;

impl SealKey {
    /// The sealing key of a key file's secret material (`ikm`), under `label` (one per use).
    pub fn derive(ikm: &[u8], label: &str) -> Self {
        let hk = hkdf::Hkdf::<Sha256>::new(Some(b"trailkeep sealed secrets"), ikm);
        let mut key = [0u8; 32];
        hk.expand(label.as_bytes(), &mut key)
            .expect("32 bytes is a valid HKDF-SHA256 output length");
        SealKey(key)
    }

    pub fn seal(&self, context: &[u8], plaintext: &[u8]) -> Vec<u8> {
        let mut nonce = [0u8; NONCE];
        OsRng.fill_bytes(&mut nonce);
        let cipher = XChaCha20Poly1305::new(Key::from_slice(&self.0));
        let sealed = cipher
            .encrypt(
                XNonce::from_slice(&nonce),
                Payload {
                    msg: plaintext,
                    aad: context,
                },
            )
            .expect("XChaCha20-Poly1305 seals any length the server stores");
        let mut out = Vec::with_capacity(1 + NONCE + sealed.len());
        out.push(VERSION);
        out.extend_from_slice(&nonce);
        out.extend_from_slice(&sealed);
        out
    }

    pub fn open(&self, context: &[u8], sealed: &[u8]) -> Result<Vec<u8>, Unsealable> {
        if sealed.len() < 1 + NONCE || sealed[0] != VERSION {
            return Err(Unsealable);
        }
        let (nonce, body) = sealed[1..].split_at(NONCE);
        XChaCha20Poly1305::new(Key::from_slice(&self.0))
            .decrypt(
                XNonce::from_slice(nonce),
                Payload {
                    msg: body,
                    aad: context,
                },
            )
            .map_err(|_| Unsealable)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn opens_only_with_its_key_and_context() {
        let key = SealKey::derive(b"key file", "totp");
        let sealed = key.seal(b"user-1", b"seed bytes");
        assert_eq!(key.open(b"user-1", &sealed).unwrap(), b"seed bytes");
        assert_eq!(key.open(b"user-2", &sealed), Err(Unsealable));
        assert_eq!(
            SealKey::derive(b"key file", "s3").open(b"user-1", &sealed),
            Err(Unsealable)
        );
        assert_eq!(
            SealKey::derive(b"other file", "totp").open(b"user-1", &sealed),
            Err(Unsealable)
        );
        let mut altered = sealed.clone();
        *altered.last_mut().unwrap() ^= 1;
        assert_eq!(key.open(b"user-1", &altered), Err(Unsealable));
        assert_eq!(key.open(b"user-1", &sealed[..10]), Err(Unsealable));
        // Two seals of one secret differ (a fresh nonce each): equal seeds are not visible.
        assert_ne!(sealed, key.seal(b"user-1", b"seed bytes"));
        assert!(!format!("{key:?}").contains(&format!("{:?}", key.0)));
    }
}
