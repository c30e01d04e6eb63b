//! Webhook signatures as the Standard Webhooks specification defines them: the signed content
//! is `<webhook-id>.<webhook-timestamp>.<body>`, signed with HMAC-SHA256 under the channel's
//! `whsec_` secret (base64 after the prefix), and sent as `webhook-signature: v1,<base64>`.
//! While a secret is rotated both sign, space-separated, so a receiver holding either accepts.
//! The `webhook-id` is the notification's, the same on every retry: the receiver's idempotency
//! key.

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use hmac::{Hmac, Mac};
use sha2::Sha256;

/// The prefix of a secret's text.
pub const PREFIX: &str = "whsec_";
/// A secret's length in bytes (the specification asks for 24 to 64).
pub const SECRET_BYTES: usize = 32;

/// A channel's signing secret.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(Vec<u8>);

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret(…)")
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SecretError {
    #[error("a webhook secret starts with whsec_ followed by base64 of 24 to 64 bytes")]
    Malformed,
}

impl Secret {
    /// A secret from random bytes (the caller draws them from the operating system).
    pub fn from_bytes(bytes: [u8; SECRET_BYTES]) -> Self {
        Secret(bytes.to_vec())
    }

    pub fn parse(text: &str) -> Result<Self, SecretError> {
        let b64 = text.strip_prefix(PREFIX).ok_or(SecretError::Malformed)?;
        let bytes = STANDARD.decode(b64).map_err(|_| SecretError::Malformed)?;
        if !(24..=64).contains(&bytes.len()) {
            return Err(SecretError::Malformed);
        }
        Ok(Secret(bytes))
    }

    /// The text shown once, when the channel is made or its secret rotated.
    pub fn text(&self) -> String {
        format!("{PREFIX}{}", STANDARD.encode(&self.0))
    }

    pub fn bytes(&self) -> &[u8] {
        &self.0
    }

    /// `v1,<base64 HMAC-SHA256 of "id.timestamp.body">`.
    pub fn sign(&self, id: &str, timestamp: i64, body: &[u8]) -> String {
        let mut mac = Hmac::<Sha256>::new_from_slice(&self.0).expect("HMAC takes any key");
        mac.update(id.as_bytes());
        mac.update(b".");
        mac.update(timestamp.to_string().as_bytes());
        mac.update(b".");
        mac.update(body);
        format!("v1,{}", STANDARD.encode(mac.finalize().into_bytes()))
    }
}

/// The `webhook-signature` header: one signature per secret (the current one first).
pub fn signature_header(secrets: &[&Secret], id: &str, timestamp: i64, body: &[u8]) -> String {
    secrets
        .iter()
        .map(|s| s.sign(id, timestamp, body))
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The specification's own example (standard-webhooks, spec/standard-webhooks.md).
    #[test]
    fn signs_the_specifications_example() {
        let secret = Secret::parse("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").unwrap();
        let body = br#"{"test": 2432232314}"#;
        assert_eq!(
            secret.sign("msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, body),
            "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
        );
    }

    #[test]
    fn a_rotated_secret_signs_with_both_and_secrets_never_print() {
        let a = Secret::from_bytes([1; SECRET_BYTES]);
        let b = Secret::from_bytes([2; SECRET_BYTES]);
        assert_eq!(Secret::parse(&a.text()).unwrap(), a);
        let header = signature_header(&[&a, &b], "id", 5, b"x");
        let parts: Vec<&str> = header.split(' ').collect();
        assert_eq!(parts, [a.sign("id", 5, b"x"), b.sign("id", 5, b"x")]);
        assert_eq!(format!("{a:?}"), "Secret(…)");
        assert!(Secret::parse("whsec_AAAA").is_err(), "too short");
        assert!(Secret::parse(&a.text()[6..]).is_err(), "no prefix");
    }
}
