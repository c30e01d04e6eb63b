//! An S3-compatible destination's settings and the rules of writing one object there, as
//! pure values: which endpoint, region, bucket and prefix (checked here before anything is
//! stored), which Object Lock, the retain-until date and the ETag S3 must report for what was
//! sent. `service::s3` does the I/O.
//!
//! Every object is written under Object Lock (COMPLIANCE or GOVERNANCE, kept `days` from its
//! upload): a destination that cannot lock is refused by the store at the first upload, and
//! the run fails saying so, rather than leaving evidence that can be deleted.

use chrono::{DateTime, SubsecRound, Utc};
use md5::{Digest, Md5};

/// Objects up to this size go in one PUT; larger ones in parts of this size (S3's minimum
/// part is 5 MiB; memory holds one part at a time).
pub const PART_SIZE: usize = 8 * 1024 * 1024;

/// The longest retention a schedule may ask for (100 years).
pub const LOCK_DAYS_MAX: u32 = 36_500;

/// Object Lock's two modes: nobody (COMPLIANCE) or only a privileged bypass (GOVERNANCE) may
/// delete or shorten before the date.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LockMode {
    Compliance,
    Governance,
}

impl LockMode {
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "COMPLIANCE" => Some(LockMode::Compliance),
            "GOVERNANCE" => Some(LockMode::Governance),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            LockMode::Compliance => "COMPLIANCE",
            LockMode::Governance => "GOVERNANCE",
        }
    }
}

/// Where and how objects are written, checked.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Target {
    /// `http(s)://host[:port][/path]`, without credentials, query or fragment.
    pub endpoint: String,
    pub region: String,
    pub bucket: String,
    /// Empty, or folders such as `trailkeep/monthly` (no leading or trailing `/`).
    pub prefix: String,
    /// `https://endpoint/bucket/key` (self-hosted stores) instead of `https://bucket.endpoint/key`.
    pub path_style: bool,
    pub lock_mode: LockMode,
    pub lock_days: u32,
}

/// Why a destination's settings were refused, saying how to fix them.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum TargetError {
    #[error("the endpoint {0:?} is not an http(s) URL without a user, query or fragment: give one such as \"https://s3.eu-central-1.amazonaws.com\" or \"http://minio.internal:9000\"")]
    Endpoint(String),
    #[error("the region {0:?} is not a region name: give one such as \"us-east-1\" (self-hosted stores usually accept \"us-east-1\")")]
    Region(String),
    #[error("the bucket {0:?} is not a bucket name: 3 to 63 lower-case letters, digits, dots and hyphens, starting and ending with a letter or digit")]
    Bucket(String),
    #[error("the prefix {0:?} is not a key prefix: give folders such as \"trailkeep/monthly\", without \"..\", a leading \"/\" or control characters, at most 500 characters")]
    Prefix(String),
    #[error("the Object Lock mode {0:?} is not COMPLIANCE or GOVERNANCE")]
    LockMode(String),
    #[error("keep objects locked for 1 to {LOCK_DAYS_MAX} days, not {0}")]
    LockDays(u32),
    #[error("a bucket name with dots cannot be reached in virtual-host style over https: turn on path-style addressing")]
    DottedBucket,
    #[error("an endpoint given as an IP address has no bucket host names: turn on path-style addressing")]
    AddressNeedsPathStyle,
}

impl Target {
    /// Checks settings as an admin typed them.
    pub fn new(
        endpoint: &str,
        region: &str,
        bucket: &str,
        prefix: &str,
        path_style: bool,
        lock_mode: &str,
        lock_days: u32,
    ) -> Result<Self, TargetError> {
        let typed = endpoint.trim();
        // Repeated in the refusal, but never with a user or password someone pasted into it.
        let refused = || {
            TargetError::Endpoint(if typed.contains('@') {
                "(hidden: it holds a user or password)".into()
            } else {
                typed.chars().take(200).collect()
            })
        };
        let url = url::Url::parse(typed).map_err(|_| refused())?;
        if !matches!(url.scheme(), "http" | "https")
            || url.host_str().is_none_or(str::is_empty)
            || !url.username().is_empty()
            || url.password().is_some()
            || url.query().is_some()
            || url.fragment().is_some()
            || url.path().contains('@')
        {
            return Err(refused());
        }
        // Stored as the URL parser normalised it (scheme and host lower-case, no stray
        // characters), which is also what credentials are bound to.
        let normal = url.as_str().trim_end_matches('/').to_string();
        if normal.len() > 500 {
            return Err(refused());
        }
        let endpoint = normal.as_str();
        let region = region.trim();
        if region.is_empty()
            || region.len() > 64
            || !region
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        {
            return Err(TargetError::Region(region.into()));
        }
        let bucket = bucket.trim();
        let edge =
            |c: Option<char>| c.is_some_and(|c| c.is_ascii_lowercase() || c.is_ascii_digit());
        if !(3..=63).contains(&bucket.len())
            || !bucket
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '.' || c == '-')
            || !edge(bucket.chars().next())
            || !edge(bucket.chars().last())
            || bucket.contains("..")
        {
            return Err(TargetError::Bucket(bucket.into()));
        }
        if !path_style && matches!(url.host(), Some(url::Host::Ipv4(_) | url::Host::Ipv6(_))) {
            return Err(TargetError::AddressNeedsPathStyle);
        }
        if !path_style && bucket.contains('.') && url.scheme() == "https" {
            return Err(TargetError::DottedBucket);
        }
        let prefix = prefix.trim().trim_matches('/');
        if prefix.len() > 500
            || prefix.chars().any(char::is_control)
            || prefix.contains('\\')
            || (!prefix.is_empty()
                && !prefix
                    .split('/')
                    .all(|s| !s.is_empty() && s != "." && s != ".."))
        {
            return Err(TargetError::Prefix(prefix.into()));
        }
        let lock_mode = LockMode::parse(lock_mode.trim())
            .ok_or_else(|| TargetError::LockMode(lock_mode.into()))?;
        if !(1..=LOCK_DAYS_MAX).contains(&lock_days) {
            return Err(TargetError::LockDays(lock_days));
        }
        Ok(Target {
            endpoint: endpoint.to_string(),
            region: region.to_string(),
            bucket: bucket.to_string(),
            prefix: prefix.to_string(),
            path_style,
            lock_mode,
            lock_days,
        })
    }

    /// The key of object `name` under the prefix.
    pub fn key(&self, name: &str) -> String {
        if self.prefix.is_empty() {
            name.to_string()
        } else {
            format!("{}/{name}", self.prefix)
        }
    }

    /// `s3://bucket/key`, as the history shows where an object is.
    pub fn location(&self, key: &str) -> String {
        format!("s3://{}/{key}", self.bucket)
    }

    /// The lock's end for an object written at `now`: whole seconds (S3 reports seconds).
    pub fn retain_until(&self, now: DateTime<Utc>) -> DateTime<Utc> {
        (now + chrono::Duration::days(i64::from(self.lock_days))).trunc_subsecs(0)
    }
}

/// A retain-until date as S3 takes and reports it (`2027-01-01T00:00:00Z`; some stores
/// mis-read an offset form).
pub fn lock_date(at: DateTime<Utc>) -> String {
    at.format("%Y-%m-%dT%H:%M:%SZ").to_string()
}

/// Reads a retain-until date as a store reports it (`…Z`, with or without fractions).
pub fn parse_lock_date(text: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(text.trim())
        .ok()
        .map(|d| d.with_timezone(&Utc).trunc_subsecs(0))
}

/// Why an object's Object Lock no longer protects it.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum LockNotInForce {
    #[error("the store reports no Object Lock on it")]
    None,
    #[error("the store reports an Object Lock mode {0:?}, not COMPLIANCE or GOVERNANCE")]
    Mode(String),
    #[error("the store reports no retain-until date that can be read ({0:?})")]
    Date(Option<String>),
    #[error("its Object Lock ended at {} (the schedule locks objects for its lock days from when they are written): an archive that can be deleted does not let a month go", lock_date(*.0))]
    Ended(DateTime<Utc>),
}

/// An object's Object Lock as a HEAD reports it, when it still protects the object at `now`:
/// a mode (COMPLIANCE or GOVERNANCE) and a retain-until date after `now`. Retention drops a
/// month only while its archive cannot be deleted or overwritten.
pub fn lock_in_force(
    mode: Option<&str>,
    retain_until: Option<&str>,
    now: DateTime<Utc>,
) -> Result<(LockMode, DateTime<Utc>), LockNotInForce> {
    let mode = mode.ok_or(LockNotInForce::None)?;
    let mode = LockMode::parse(mode.trim()).ok_or_else(|| LockNotInForce::Mode(mode.into()))?;
    let until = retain_until
        .and_then(parse_lock_date)
        .ok_or_else(|| LockNotInForce::Date(retain_until.map(str::to_string)))?;
    if until <= now {
        return Err(LockNotInForce::Ended(until));
    }
    Ok((mode, until))
}

/// The ETag S3 reports for an object sent in one PUT (`md5s` has one digest) or in parts:
/// the MD5 of the body, or the MD5 of the parts' MD5s with `-<parts>`.
pub fn expected_etag(md5s: &[[u8; 16]]) -> String {
    match md5s {
        [one] => hex::encode(one),
        parts => {
            let mut h = Md5::new();
            for p in parts {
                h.update(p);
            }
            format!("{}-{}", hex::encode(h.finalize()), parts.len())
        }
    }
}

/// An access key and its secret. `Debug` shows neither.
#[derive(Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Credentials {
    pub access_key_id: String,
    pub secret_access_key: String,
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Credentials(…)")
    }
}

/// Why credentials were refused.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum CredentialsError {
    #[error("give the access key ID (1 to 128 printable characters without spaces)")]
    AccessKey,
    #[error("give the secret access key (1 to 256 printable characters without spaces)")]
    Secret,
}

impl Credentials {
    pub fn new(access_key_id: &str, secret_access_key: &str) -> Result<Self, CredentialsError> {
        let fine = |s: &str, max: usize| {
            !s.is_empty() && s.len() <= max && s.chars().all(|c| c.is_ascii_graphic())
        };
        let (a, s) = (access_key_id.trim(), secret_access_key.trim());
        if !fine(a, 128) {
            return Err(CredentialsError::AccessKey);
        }
        if !fine(s, 256) {
            return Err(CredentialsError::Secret);
        }
        Ok(Credentials {
            access_key_id: a.into(),
            secret_access_key: s.into(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_lock_protects_only_while_it_lasts() {
        let now = "2027-03-01T00:00:00Z".parse::<DateTime<Utc>>().unwrap();
        assert_eq!(
            lock_in_force(Some("COMPLIANCE"), Some("2027-03-31T00:00:00Z"), now),
            Ok((LockMode::Compliance, now + chrono::Duration::days(30)))
        );
        assert_eq!(
            lock_in_force(Some("GOVERNANCE"), Some("2027-03-01T00:00:01.000Z"), now),
            Ok((LockMode::Governance, now + chrono::Duration::seconds(1)))
        );
        assert_eq!(
            lock_in_force(Some("COMPLIANCE"), Some("2027-03-01T00:00:00Z"), now),
            Err(LockNotInForce::Ended(now))
        );
        assert_eq!(
            lock_in_force(None, Some("2099-01-01T00:00:00Z"), now),
            Err(LockNotInForce::None)
        );
        assert_eq!(
            lock_in_force(Some("LEGAL"), Some("2099-01-01T00:00:00Z"), now),
            Err(LockNotInForce::Mode("LEGAL".into()))
        );
        assert_eq!(
            lock_in_force(Some("COMPLIANCE"), Some("soon"), now),
            Err(LockNotInForce::Date(Some("soon".into())))
        );
        assert!(LockNotInForce::Ended(now)
            .to_string()
            .contains("2027-03-01T00:00:00Z"));
    }

    fn t(endpoint: &str, bucket: &str, prefix: &str) -> Result<Target, TargetError> {
        Target::new(
            endpoint,
            "us-east-1",
            bucket,
            prefix,
            true,
            "COMPLIANCE",
            30,
        )
    }

    #[test]
    fn settings_are_checked() {
        let ok = t(
            "http://127.0.0.1:9000/",
            "audit-archive",
            "/trailkeep/monthly/",
        )
        .unwrap();
        assert_eq!(ok.endpoint, "http://127.0.0.1:9000");
        assert_eq!(ok.prefix, "trailkeep/monthly");
        assert_eq!(ok.key("a.tar.gz"), "trailkeep/monthly/a.tar.gz");
        assert_eq!(
            t("https://s3.example.com", "b-1", "").unwrap().key("x"),
            "x"
        );
        assert_eq!(
            t("HTTPS://S3.Example.com/", "bucket", "").unwrap().endpoint,
            "https://s3.example.com"
        );
        assert_eq!(
            t("https://AKIA:s3cret@host", "bucket", ""),
            Err(TargetError::Endpoint(
                "(hidden: it holds a user or password)".into()
            ))
        );
        for bad in [
            "ftp://host",
            "https://user:pw@host",
            "https://host\\@x",
            "https://host?x=1",
            "https://host#f",
            "not a url",
            "file:///etc",
        ] {
            assert!(
                matches!(t(bad, "bucket", ""), Err(TargetError::Endpoint(_))),
                "{bad}"
            );
        }
        for bad in [
            "ab",
            "Upper",
            "-lead",
            "trail-",
            "a..b",
            "a_b",
            &"a".repeat(64),
        ] {
            assert!(
                matches!(t("https://h", bad, ""), Err(TargetError::Bucket(_))),
                "{bad}"
            );
        }
        for bad in ["a/../b", "a//b", "./a", "a\\b", "a\nb"] {
            assert!(
                matches!(t("https://h", "bucket", bad), Err(TargetError::Prefix(_))),
                "{bad}"
            );
        }
        assert!(matches!(
            Target::new("https://h", "US EAST", "bucket", "", true, "COMPLIANCE", 1),
            Err(TargetError::Region(_))
        ));
        assert!(matches!(
            Target::new("https://h", "r", "bucket", "", true, "WORM", 1),
            Err(TargetError::LockMode(_))
        ));
        assert_eq!(
            Target::new("https://h", "r", "bucket", "", true, "GOVERNANCE", 0),
            Err(TargetError::LockDays(0))
        );
        assert_eq!(
            Target::new("https://h", "r", "a.b.c", "", false, "GOVERNANCE", 1),
            Err(TargetError::DottedBucket)
        );
        for address in ["http://127.0.0.1:9000", "http://[::1]:9000"] {
            assert_eq!(
                Target::new(address, "r", "bucket", "", false, "GOVERNANCE", 1),
                Err(TargetError::AddressNeedsPathStyle)
            );
            assert!(Target::new(address, "r", "bucket", "", true, "GOVERNANCE", 1).is_ok());
        }
    }

    #[test]
    fn lock_dates_are_whole_seconds_in_z_form() {
        let target = t("http://h", "bucket", "").unwrap();
        let now = DateTime::parse_from_rfc3339("2027-01-31T10:00:00.987654Z")
            .unwrap()
            .with_timezone(&Utc);
        let until = target.retain_until(now);
        assert_eq!(lock_date(until), "2027-03-02T10:00:00Z");
        assert_eq!(parse_lock_date("2027-03-02T10:00:00.000Z"), Some(until));
        assert_eq!(parse_lock_date("2027-03-02T11:00:00+01:00"), Some(until));
    }

    #[test]
    fn etags_of_one_put_and_of_parts() {
        let a: [u8; 16] = Md5::digest(b"hello").into();
        assert_eq!(expected_etag(&[a]), "5d41402abc4b2a76b9719d911017c592");
        let b: [u8; 16] = Md5::digest(b"world").into();
        let mut both = Md5::new();
        both.update(a);
        both.update(b);
        assert_eq!(
            expected_etag(&[a, b]),
            format!("{}-2", hex::encode(both.finalize()))
        );
    }

    #[test]
    fn credentials_never_show() {
        let c = Credentials::new(" AKIAEXAMPLE ", "s3cr3t/+x").unwrap();
        assert_eq!(c.access_key_id, "AKIAEXAMPLE");
        assert_eq!(format!("{c:?}"), "Credentials(…)");
        assert_eq!(Credentials::new("", "x"), Err(CredentialsError::AccessKey));
        assert_eq!(
            Credentials::new("a", "with space"),
            Err(CredentialsError::Secret)
        );
    }
}
