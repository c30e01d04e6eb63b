//! Second factors: RFC 6238 time-based codes (SHA-1, 6 digits, 30 s, one step of skew either
//! side, as every authenticator app) and one-time recovery codes. A code is accepted only for
//! a time step later than the last one accepted for its user (the caller stores that step with
//! one conditional UPDATE), so a code seen over a shoulder or in a proxy is worth nothing once
//! used. Recovery codes hold 60 random bits each and are stored as Argon2 hashes.

use rand_core::{OsRng, RngCore};
use totp_rs::{Builder, Secret, Totp};

/// Seconds per time step.
pub const STEP: u64 = 30;
/// How many recovery codes a set holds.
pub const RECOVERY_CODES: usize = 10;
/// Characters of a recovery code (Crockford base32: 5 bits each, 60 bits in all).
const RECOVERY_LEN: usize = 12;
const CROCKFORD: &[u8; 32] = b"0123456789abcdefghjkmnpqrstvwxyz";

/// A user's TOTP seed: 20 random bytes (160 bits, RFC 4226's recommendation).
#[derive(Clone)]
pub struct Seed(Vec<u8>);

impl std::fmt::Debug for Seed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Seed(…)")
    }
}

impl Seed {
    pub fn generate() -> Self {
        let mut bytes = vec![0u8; 20];
        OsRng.fill_bytes(&mut bytes);
        Seed(bytes)
    }

    /// A seed read back (unsealed); `None` when too short for RFC 4226 (128 bits).
    pub fn from_bytes(bytes: Vec<u8>) -> Option<Self> {
        (bytes.len() >= 16).then_some(Seed(bytes))
    }

    /// A seed as apps are given it typed (base32; spaces ignored), `None` if it is not one.
    pub fn from_base32(text: &str) -> Option<Self> {
        let compact: String = text.chars().filter(|c| !c.is_whitespace()).collect();
        Secret::try_from_base32(compact)
            .ok()
            .and_then(|s| Self::from_bytes(s.as_bytes().to_vec()))
    }

    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }

    /// The seed as authenticator apps take it typed: base32 without padding.
    pub fn base32(&self) -> String {
        Secret::from(self.0.clone()).to_base32()
    }

    fn totp(&self, issuer: &str, account: &str) -> Totp {
        // `:` separates issuer and account in the otpauth label: never inside either.
        let clean = |s: &str| s.replace(':', " ").trim().to_string();
        let issuer = Some(clean(issuer)).filter(|s| !s.is_empty());
        Builder::new()
            .with_secret(self.0.clone())
            .with_issuer(issuer)
            .with_account_name(clean(account))
            .with_step_duration(STEP)
            .with_skew(1)
            .build_noncompliant()
    }

    /// The `otpauth://totp/…` URL an app scans, naming `issuer` (the site) and `account`.
    pub fn otpauth_url(&self, issuer: &str, account: &str) -> String {
        self.totp(issuer, account).to_url().unwrap_or_else(|_| {
            self.totp("Trailkeep", "account")
                .to_url()
                .unwrap_or_default()
        })
    }

    /// The time step `code` was made for, if it is this seed's code at `unix_time` (one step
    /// either side); spaces inside the code are ignored.
    pub fn check(&self, code: &str, unix_time: u64) -> Option<i64> {
        let code: String = code.chars().filter(|c| !c.is_whitespace()).collect();
        if code.len() != 6 || !code.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        self.totp("", "account")
            .check(&code, unix_time)
            .and_then(|step| i64::try_from(step).ok())
    }

    /// This seed's code at `unix_time` (tests and the demo's enrolled user).
    pub fn code_at(&self, unix_time: u64) -> String {
        self.totp("", "account").generate(unix_time).to_string()
    }
}

/// The enrolment QR code of `url` as inline SVG (no XML prolog, nothing external), sized by
/// the page's CSS through its `viewBox`.
pub fn qr_svg(url: &str) -> Option<String> {
    let code = qrcode::QrCode::new(url.as_bytes()).ok()?;
    let svg = code
        .render::<qrcode::render::svg::Color>()
        .min_dimensions(200, 200)
        .quiet_zone(true)
        .build();
    let start = svg.find("<svg")?;
    Some(svg[start..].to_string())
}

/// A new set of recovery codes, as shown once (`xxxx-xxxx-xxxx`).
pub fn new_recovery_codes() -> Vec<String> {
    (0..RECOVERY_CODES)
        .map(|_| {
            let mut bytes = [0u8; RECOVERY_LEN];
            OsRng.fill_bytes(&mut bytes);
            let chars: Vec<char> = bytes
                .iter()
                .map(|b| CROCKFORD[(b & 31) as usize] as char)
                .collect();
            chars
                .chunks(4)
                .map(|c| c.iter().collect::<String>())
                .collect::<Vec<_>>()
                .join("-")
        })
        .collect()
}

/// A typed recovery code in the form its hash was made of, or `None` if it cannot be one:
/// case, spaces and dashes do not matter, and Crockford's look-alikes (i, l → 1; o → 0) read
/// as what they look like.
pub fn normalise_recovery_code(typed: &str) -> Option<String> {
    let code: String = typed
        .chars()
        .filter(|c| !c.is_whitespace() && *c != '-')
        .map(|c| match c.to_ascii_lowercase() {
            'i' | 'l' => '1',
            'o' => '0',
            c => c,
        })
        .collect();
    (code.len() == RECOVERY_LEN && code.bytes().all(|b| CROCKFORD.contains(&b))).then_some(code)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 6238 appendix B, SHA-1 (seed "12345678901234567890"), truncated to the 6 digits
    /// authenticator apps show (the RFC prints 8; the last 6 of each are the 6-digit code).
    #[test]
    fn rfc_6238_test_vectors() {
        let seed = Seed::from_bytes(b"12345678901234567890".to_vec()).unwrap();
        for (t, eight) in [
            (59u64, "94287082"),
            (1111111109, "07081804"),
            (1111111111, "14050471"),
            (1234567890, "89005924"),
            (2000000000, "69279037"),
            (20000000000, "65353130"),
        ] {
            assert_eq!(seed.code_at(t), eight[2..], "t = {t}");
            assert_eq!(
                seed.check(&eight[2..], t),
                Some((t / STEP) as i64),
                "t = {t}"
            );
        }
        // The 8-digit form, through the library directly: the RFC's own numbers.
        let eight = Builder::new()
            .with_secret(b"12345678901234567890".to_vec())
            .with_digits(8)
            .build()
            .unwrap();
        assert_eq!(eight.generate(1111111109).to_string(), "07081804");
    }

    #[test]
    fn a_code_matches_its_step_and_one_either_side_only() {
        let seed = Seed::generate();
        let t = 1_700_000_000u64;
        let code = seed.code_at(t);
        let step = (t / STEP) as i64;
        assert_eq!(seed.check(&code, t), Some(step));
        assert_eq!(seed.check(&code, t + STEP), Some(step));
        assert_eq!(seed.check(&code, t - STEP), Some(step));
        assert_eq!(seed.check(&code, t + 2 * STEP), None);
        assert_eq!(
            seed.check(&format!("{} {}", &code[..3], &code[3..]), t),
            Some(step)
        );
        for bad in ["", "12345", "1234567", "abcdef", "１２３４５６"] {
            assert_eq!(seed.check(bad, t), None, "{bad:?}");
        }
    }

    #[test]
    fn the_url_names_site_and_account_and_holds_the_seed() {
        let seed = Seed::from_bytes(b"12345678901234567890".to_vec()).unwrap();
        assert_eq!(seed.base32(), "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ");
        let back = Seed::from_base32("GEZD GNBV GY3T QOJQ GEZD GNBV GY3T QOJQ").unwrap();
        assert_eq!(back.as_bytes(), seed.as_bytes());
        let url = seed.otpauth_url("Acme: audit", "ada@example.com");
        assert!(url.starts_with("otpauth://totp/"), "{url}");
        assert!(
            url.contains("secret=GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ"),
            "{url}"
        );
        assert!(url.contains("ada%40example.com"), "{url}");
        let svg = qr_svg(&url).unwrap();
        assert!(svg.starts_with("<svg"), "{}", &svg[..40]);
        assert!(!svg.contains("<?xml") && !svg.contains("href"));
    }

    #[test]
    fn recovery_codes_are_distinct_and_read_back_however_typed() {
        let codes = new_recovery_codes();
        assert_eq!(codes.len(), RECOVERY_CODES);
        let mut unique = codes.clone();
        unique.sort();
        unique.dedup();
        assert_eq!(unique.len(), RECOVERY_CODES);
        for code in &codes {
            assert_eq!(code.len(), 14, "{code}");
            let plain = normalise_recovery_code(code).unwrap();
            assert_eq!(
                normalise_recovery_code(&code.to_uppercase()),
                Some(plain.clone())
            );
            assert_eq!(
                normalise_recovery_code(&plain.replace('1', "l").replace('0', "O")),
                Some(plain)
            );
        }
        assert_eq!(normalise_recovery_code("123456"), None);
        assert_eq!(normalise_recovery_code("uuuu-uuuu-uuuu"), None);
    }
}
