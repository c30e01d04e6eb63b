//! Checkpoints: what the log commits to, signed. A checkpoint is a C2SP `tlog-checkpoint`
//! (origin, size, base64 root) carried as a C2SP `signed-note` with an Ed25519 signature. This
//! is the signing half (`signed_note` and `tlog_tiles`' checkpoint, ports of Go's sumdb `note`
//! and `tlog`): the log's key, and notes made with it. The verifying half, which the browser
//! runs too, is `app::integrity` (re-exported here): opening a note always verifies it against
//! a key the caller pins, and text read from anywhere else, the database included, is never
//! believed on its own.

use signed_note::{Note, StandardSigner};
use tlog_tiles::{tlog, Checkpoint as Text};

pub use app::integrity::{Checkpoint, CheckpointError, VerifierKey};

/// The log's signing key (`PRIVATE+KEY+name+id+data`): never logged, never stored in the
/// database. `Debug` prints only the verifier key.
#[derive(Clone)]
pub struct SigningKey {
    secret: String,
    verifier: VerifierKey,
}

impl std::fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "SigningKey({})", self.verifier.as_str())
    }
}

/// A stored checkpoint in words, for the footers of CSV and PDF exports: its size, base64
/// root and key (`origin+keyid`), read from the note's text (`key_id` from its row).
pub fn describe(note: &str, key_id: u32) -> String {
    let mut lines = note.lines();
    let (origin, size, root) = (
        lines.next().unwrap_or(""),
        lines.next().unwrap_or(""),
        lines.next().unwrap_or(""),
    );
    // No commas: the CSV footer's cell stays unquoted, so it still begins with `#`.
    format!("checkpoint of {size} entries; root {root}; key {origin}+{key_id:08x}")
}

impl SigningKey {
    /// A new key for the log `origin` (its name), from `rng` (the operating system's, given by
    /// the caller: this module does no I/O).
    pub fn generate(
        origin: &str,
        rng: &mut impl rand_core::CryptoRngCore,
    ) -> Result<Self, CheckpointError> {
        if !signed_note::is_key_name_valid(origin) {
            return Err(CheckpointError::Key(format!(
                "{origin:?} cannot name a log: give a name without spaces or '+', such as \
                 trailkeep.example.com/log"
            )));
        }
        let (secret, verifier) = signed_note::generate_key(rng, origin);
        Self::from_parts(&secret, &verifier)
    }

    /// The key as its file holds it: the signing key and the verifier key, a line each; they
    /// must belong together (checked by signing and verifying).
    pub fn from_parts(secret: &str, verifier: &str) -> Result<Self, CheckpointError> {
        StandardSigner::new(secret.trim())
            .map_err(|e| CheckpointError::Key(format!("not a signing key: {e}")))?;
        let key = SigningKey {
            secret: secret.trim().to_string(),
            verifier: VerifierKey::parse(verifier)?,
        };
        let probe = Checkpoint {
            origin: key.verifier.name().to_string(),
            size: 1,
            root: [0; 32],
        };
        key.verifier()
            .open(key.sign(&probe)?.as_bytes())
            .map_err(|_| CheckpointError::Key("the signing and verifier keys differ".into()))?;
        Ok(key)
    }

    /// The two lines of a key file.
    pub fn to_file(&self) -> String {
        format!("{}\n{}\n", self.secret, self.verifier.as_str())
    }

    pub fn from_file(text: &str) -> Result<Self, CheckpointError> {
        let mut lines = text.lines().filter(|l| !l.trim().is_empty());
        match (lines.next(), lines.next(), lines.next()) {
            (Some(secret), Some(verifier), None) => Self::from_parts(secret, verifier),
            _ => Err(CheckpointError::Key(
                "a key file holds two lines: the signing key, then the verifier key".into(),
            )),
        }
    }

    /// The key that seals this log's stored secrets for `label` (`domain::sealed`): derived
    /// from this key's secret half, so it too never enters the database.
    pub fn seal_key(&self, label: &str) -> crate::domain::sealed::SealKey {
        crate::domain::sealed::SealKey::derive(self.secret.as_bytes(), label)
    }

    pub fn verifier(&self) -> &VerifierKey {
        &self.verifier
    }

    /// The signed note of `checkpoint` (whose origin must be this key's name).
    pub fn sign(&self, checkpoint: &Checkpoint) -> Result<String, CheckpointError> {
        if checkpoint.origin != self.verifier.name() {
            return Err(CheckpointError::Origin {
                expected: self.verifier.name().to_string(),
                found: checkpoint.origin.clone(),
            });
        }
        let text = Text::new(
            &checkpoint.origin,
            checkpoint.size,
            tlog::Hash(checkpoint.root),
            "",
        )
        .map_err(|_| CheckpointError::Malformed("not a valid checkpoint".into()))?;
        let signer = StandardSigner::new(&self.secret)
            .map_err(|e| CheckpointError::Key(format!("not a signing key: {e}")))?;
        let mut note = Note::new(&text.to_bytes(), &[])
            .map_err(|e| CheckpointError::Malformed(e.to_string()))?;
        note.add_sigs(&[&signer])
            .map_err(|e| CheckpointError::Malformed(e.to_string()))?;
        String::from_utf8(note.to_bytes())
            .map_err(|_| CheckpointError::Malformed("the note is not UTF-8".into()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The example of c2sp.org/signed-note (and Go's sumdb/note documentation).
    const VKEY: &str = "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW";
    const SKEY: &str =
        "PRIVATE+KEY+PeterNeumann+c74f20a3+AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz";

    #[test]
    fn the_c2sp_example_key_pair_belongs_together() {
        // The example of c2sp.org/signed-note (its note verifies in app::integrity's tests).
        SigningKey::from_parts(SKEY, VKEY).unwrap();
    }

    #[test]
    fn a_signed_checkpoint_opens_with_its_key_only() {
        let key = SigningKey::generate("trailkeep.example.com/log", &mut rand_core::OsRng).unwrap();
        let cp = Checkpoint {
            origin: "trailkeep.example.com/log".into(),
            size: 20004,
            root: [7; 32],
        };
        let note = key.sign(&cp).unwrap();
        assert!(note.starts_with("trailkeep.example.com/log\n20004\n"));
        assert_eq!(key.verifier().open(note.as_bytes()).unwrap(), cp);
        // The file form round-trips, and its Debug shows no secret.
        let again = SigningKey::from_file(&key.to_file()).unwrap();
        assert_eq!(again.verifier(), key.verifier());
        assert!(!format!("{key:?}").contains("PRIVATE"));

        let other =
            SigningKey::generate("trailkeep.example.com/log", &mut rand_core::OsRng).unwrap();
        assert!(matches!(
            other.verifier().open(note.as_bytes()),
            Err(CheckpointError::NotSigned(_))
        ));
        let other_log =
            SigningKey::generate("elsewhere.example.com/log", &mut rand_core::OsRng).unwrap();
        assert!(key
            .sign(&Checkpoint {
                origin: "elsewhere.example.com/log".into(),
                ..cp.clone()
            })
            .is_err());
        let foreign = other_log
            .sign(&Checkpoint {
                origin: "elsewhere.example.com/log".into(),
                ..cp.clone()
            })
            .unwrap();
        assert!(key.verifier().open(foreign.as_bytes()).is_err());
        let changed = note.replace("20004", "20005");
        assert!(key.verifier().open(changed.as_bytes()).is_err());
        // Mismatched halves of a key file are refused.
        assert!(SigningKey::from_parts(&key.secret, other.verifier().as_str()).is_err());
        assert!(SigningKey::generate("has space", &mut rand_core::OsRng).is_err());
    }
}
