//! Writing one object to an S3-compatible bucket under Object Lock, and confirming it: the
//! object is sent with its lock (mode and retain-until) and its integrity headers (Content-MD5,
//! which Object Lock requires, and SHA-256), in one PUT up to `PART_SIZE` or in parts beyond;
//! then a HEAD must report the size, the ETag of exactly what was sent, the lock mode and the
//! retain-until date, or the upload counts as failed (and is tried again). Every request is
//! presigned by rusty-s3 (SigV4 over every header sent) and goes through the guarded client.
//!
//! Multipart uploads carry the lock on their creation, and the retention is set again on the
//! completed version (`PutObjectRetention`, the same mode and date): some stores ignore the
//! creation's lock headers, and the HEAD would then fail the run.

use std::io::Read;
use std::path::Path;
use std::time::Duration;

use base64::Engine;
use chrono::{DateTime, Utc};
use md5::{Digest, Md5};
use rusty_s3::actions::{CompleteMultipartUploadResponse, CreateMultipartUpload};
use rusty_s3::{Bucket, S3Action, UrlStyle};
use sha2::Sha256;

use crate::domain::export::bundle;
use crate::domain::export::s3::{
    expected_etag, lock_date, parse_lock_date, Credentials, Target, PART_SIZE,
};
use crate::service::outbound::{read_capped, CallError, Outbound};

/// How long a presigned request stays valid (it is sent at once).
const SIGNED_FOR: Duration = Duration::from_secs(600);

/// The most of an error answer read.
const ERROR_BODY_CAP: usize = 16 * 1024;

const B64: base64::engine::GeneralPurpose = base64::engine::general_purpose::STANDARD;

/// Why writing or confirming an object failed.
#[derive(Debug, thiserror::Error)]
pub enum S3Error {
    #[error("the S3 endpoint was not called: {0}")]
    Call(#[from] CallError),
    #[error("S3 refused {action} with {status}{code}{message}")]
    Refused {
        action: &'static str,
        status: u16,
        code: String,
        message: String,
    },
    #[error("the uploaded object does not show what was sent: {0}")]
    Unconfirmed(String),
    #[error("the S3 settings cannot address the bucket: {0}")]
    Bucket(String),
    #[error("reading the export to upload failed: {0}")]
    Io(#[from] std::io::Error),
}

/// An object as written and confirmed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Uploaded {
    pub key: String,
    /// The version the store gave it (versioning is on wherever Object Lock is).
    pub version_id: Option<String>,
    pub etag: String,
    pub retain_until: DateTime<Utc>,
    pub parts: usize,
}

/// One bucket, with its credentials.
pub struct Store {
    pub target: Target,
    bucket: Bucket,
    credentials: rusty_s3::Credentials,
    http: Outbound,
    /// Objects larger than this go in parts of this size (tests lower it).
    pub part_size: usize,
}

impl Store {
    pub fn new(target: Target, credentials: &Credentials, http: Outbound) -> Result<Self, S3Error> {
        let endpoint: url::Url = target
            .endpoint
            .parse()
            .map_err(|e: url::ParseError| S3Error::Bucket(e.to_string()))?;
        let style = if target.path_style {
            UrlStyle::Path
        } else {
            UrlStyle::VirtualHost
        };
        let bucket = Bucket::new(
            endpoint,
            style,
            target.bucket.clone(),
            target.region.clone(),
        )
        .map_err(|e| S3Error::Bucket(e.to_string()))?;
        Ok(Store {
            target,
            bucket,
            credentials: rusty_s3::Credentials::new(
                credentials.access_key_id.clone(),
                credentials.secret_access_key.clone(),
            ),
            http,
            part_size: PART_SIZE,
        })
    }

    /// Uploads the file at `path` as `key`, locked from `now`, and confirms it.
    pub async fn put_file(
        &self,
        path: &Path,
        key: &str,
        now: DateTime<Utc>,
    ) -> Result<Uploaded, S3Error> {
        let len = std::fs::metadata(path)?.len();
        let until = self.target.retain_until(now);
        let mut file = std::fs::File::open(path)?;
        let (version_id, md5s, sha256) = if len <= self.part_size as u64 {
            let mut body = Vec::with_capacity(len as usize);
            file.read_to_end(&mut body)?;
            let md5: [u8; 16] = Md5::digest(&body).into();
            let sha256 = B64.encode(Sha256::digest(&body));
            let version = self.put_one(key, body, md5, &sha256, until).await?;
            (version, vec![md5], Some(sha256))
        } else {
            let (version, md5s) = self.put_parts(&mut file, key, until).await?;
            (version, md5s, None)
        };
        let etag = expected_etag(&md5s);
        let sha256 = sha256.as_deref();
        self.confirm(key, version_id.as_deref(), len, &etag, sha256, until)
            .await?;
        Ok(Uploaded {
            key: key.to_string(),
            version_id,
            etag,
            retain_until: until,
            parts: md5s.len(),
        })
    }

    fn lock_headers<'a>(&self, headers: &mut rusty_s3::Map<'a>, until: DateTime<Utc>) {
        headers.insert("x-amz-object-lock-mode", self.target.lock_mode.as_str());
        headers.insert("x-amz-object-lock-retain-until-date", lock_date(until));
    }

    /// Sends a signed request with exactly the headers that were signed.
    async fn send(
        &self,
        method: reqwest::Method,
        url: &url::Url,
        headers: &rusty_s3::Map<'_>,
        body: Option<Vec<u8>>,
    ) -> Result<reqwest::Response, S3Error> {
        let mut rb = self.http.request(method, url)?;
        for (k, v) in headers.iter() {
            rb = rb.header(k, v);
        }
        rb = match body {
            Some(b) => rb.body(b),
            // reqwest leaves an empty body without a length, which some stores refuse.
            None => rb.header(reqwest::header::CONTENT_LENGTH, "0"),
        };
        Ok(rb.send().await.map_err(CallError::from)?)
    }

    /// A refusal from an answer that is not 2xx, with S3's code and message.
    async fn refused(action: &'static str, response: reqwest::Response) -> S3Error {
        let status = response.status().as_u16();
        let body = read_capped(response, ERROR_BODY_CAP).await;
        let text = String::from_utf8_lossy(&body);
        let tag = |name: &str| {
            let open = format!("<{name}>");
            let close = format!("</{name}>");
            text.split_once(&open)
                .and_then(|(_, rest)| rest.split_once(&close))
                .map(|(v, _)| {
                    v.chars()
                        .filter(|c| !c.is_control())
                        .take(300)
                        .collect::<String>()
                })
        };
        S3Error::Refused {
            action,
            status,
            code: tag("Code").map(|c| format!(" {c}")).unwrap_or_default(),
            message: tag("Message").map(|m| format!(": {m}")).unwrap_or_default(),
        }
    }

    async fn put_one(
        &self,
        key: &str,
        body: Vec<u8>,
        md5: [u8; 16],
        sha256: &str,
        until: DateTime<Utc>,
    ) -> Result<Option<String>, S3Error> {
        let mut action = self.bucket.put_object(Some(&self.credentials), key);
        let headers = action.headers_mut();
        headers.insert("content-md5", B64.encode(md5));
        headers.insert("content-type", bundle::content_type(key));
        headers.insert("x-amz-checksum-sha256", sha256.to_string());
        headers.insert("x-amz-sdk-checksum-algorithm", "SHA256");
        self.lock_headers(headers, until);
        let url = action.sign(SIGNED_FOR);
        let response = self
            .send(reqwest::Method::PUT, &url, action.headers_mut(), Some(body))
            .await?;
        if !response.status().is_success() {
            return Err(Self::refused("PutObject", response).await);
        }
        Ok(version_of(&response))
    }

    async fn put_parts(
        &self,
        file: &mut std::fs::File,
        key: &str,
        until: DateTime<Utc>,
    ) -> Result<(Option<String>, Vec<[u8; 16]>), S3Error> {
        let mut create = CreateMultipartUpload::new(&self.bucket, Some(&self.credentials), key);
        create
            .headers_mut()
            .insert("content-type", bundle::content_type(key));
        self.lock_headers(create.headers_mut(), until);
        let url = create.sign(SIGNED_FOR);
        let response = self
            .send(reqwest::Method::POST, &url, create.headers_mut(), None)
            .await?;
        if !response.status().is_success() {
            return Err(Self::refused("CreateMultipartUpload", response).await);
        }
        let text =
            String::from_utf8_lossy(&read_capped(response, ERROR_BODY_CAP).await).into_owned();
        let upload_id = CreateMultipartUpload::parse_response(&text)
            .map_err(|e| S3Error::Unconfirmed(format!("CreateMultipartUpload's answer: {e}")))?
            .upload_id()
            .to_string();
        match self.send_parts(file, key, &upload_id).await {
            Ok((version, md5s)) => {
                // The lock again on the completed version, only if the store dropped the
                // creation's (some do; it needs the key to be allowed PutObjectRetention).
                let head = self.head(key, version.as_deref()).await?;
                if self.lock_problem(head.headers(), until).is_some() {
                    self.put_retention(key, version.as_deref(), until).await?;
                }
                Ok((version, md5s))
            }
            Err(e) => {
                let abort =
                    self.bucket
                        .abort_multipart_upload(Some(&self.credentials), key, &upload_id);
                let url = abort.sign(SIGNED_FOR);
                if let Err(a) = self
                    .send(reqwest::Method::DELETE, &url, &rusty_s3::Map::new(), None)
                    .await
                {
                    tracing::warn!(error = %a, "aborting a failed multipart upload failed");
                }
                Err(e)
            }
        }
    }

    async fn send_parts(
        &self,
        file: &mut std::fs::File,
        key: &str,
        upload_id: &str,
    ) -> Result<(Option<String>, Vec<[u8; 16]>), S3Error> {
        let mut md5s = Vec::new();
        let mut etags = Vec::new();
        let mut buf = vec![0u8; self.part_size];
        loop {
            let n = read_full(file, &mut buf)?;
            if n == 0 {
                break;
            }
            let number = u16::try_from(md5s.len() + 1)
                .ok()
                .filter(|n| *n <= 10_000)
                .ok_or_else(|| S3Error::Bucket("more than 10,000 parts".into()))?;
            let md5: [u8; 16] = Md5::digest(&buf[..n]).into();
            let mut part = self
                .bucket
                .upload_part(Some(&self.credentials), key, number, upload_id);
            part.headers_mut().insert("content-md5", B64.encode(md5));
            let url = part.sign(SIGNED_FOR);
            let response = self
                .send(
                    reqwest::Method::PUT,
                    &url,
                    part.headers_mut(),
                    Some(buf[..n].to_vec()),
                )
                .await?;
            if !response.status().is_success() {
                return Err(Self::refused("UploadPart", response).await);
            }
            let etag = response
                .headers()
                .get(reqwest::header::ETAG)
                .and_then(|v| v.to_str().ok())
                .ok_or_else(|| S3Error::Unconfirmed(format!("part {number} has no ETag")))?
                .to_string();
            if etag.trim_matches('"') != hex::encode(md5) {
                return Err(S3Error::Unconfirmed(format!(
                    "part {number}'s ETag {etag} is not the MD5 of what was sent"
                )));
            }
            md5s.push(md5);
            etags.push(etag);
        }
        let complete = self.bucket.complete_multipart_upload(
            Some(&self.credentials),
            key,
            upload_id,
            etags.iter().map(String::as_str),
        );
        let url = complete.sign(SIGNED_FOR);
        let body = complete.body();
        let response = self
            .send(
                reqwest::Method::POST,
                &url,
                &rusty_s3::Map::new(),
                Some(body.into_bytes()),
            )
            .await?;
        if !response.status().is_success() {
            return Err(Self::refused("CompleteMultipartUpload", response).await);
        }
        let version = version_of(&response);
        // A 200 can still carry an error.
        let text =
            String::from_utf8_lossy(&read_capped(response, ERROR_BODY_CAP).await).into_owned();
        CompleteMultipartUploadResponse::parse(&text).map_err(|_| {
            S3Error::Unconfirmed(format!(
                "CompleteMultipartUpload answered {}",
                text.chars().take(300).collect::<String>()
            ))
        })?;
        Ok((version, md5s))
    }

    /// `PutObjectRetention` (rusty-s3 has no action for it: the raw signer).
    async fn put_retention(
        &self,
        key: &str,
        version: Option<&str>,
        until: DateTime<Utc>,
    ) -> Result<(), S3Error> {
        let xml = format!(
            "<Retention xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\"><Mode>{}</Mode>\
             <RetainUntilDate>{}</RetainUntilDate></Retention>",
            self.target.lock_mode.as_str(),
            lock_date(until)
        );
        let mut headers = rusty_s3::Map::new();
        headers.insert("content-md5", B64.encode(Md5::digest(xml.as_bytes())));
        let mut query = vec![("retention", "")];
        if let Some(v) = version {
            query.push(("versionId", v));
        }
        let url = rusty_s3::signing::sign(
            &jiff::Timestamp::now(),
            rusty_s3::Method::Put,
            self.bucket.object_url(key),
            self.credentials.key(),
            self.credentials.secret(),
            self.credentials.token(),
            self.bucket.region(),
            SIGNED_FOR.as_secs(),
            query.iter().copied(),
            headers.iter(),
        );
        let response = self
            .send(reqwest::Method::PUT, &url, &headers, Some(xml.into_bytes()))
            .await?;
        if !response.status().is_success() {
            return Err(Self::refused("PutObjectRetention", response).await);
        }
        Ok(())
    }

    /// What is wrong with the lock a HEAD shows, if anything.
    fn lock_problem(
        &self,
        headers: &reqwest::header::HeaderMap,
        until: DateTime<Utc>,
    ) -> Option<String> {
        let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
        let mode = header("x-amz-object-lock-mode");
        let retain = header("x-amz-object-lock-retain-until-date");
        if mode != Some(self.target.lock_mode.as_str()) {
            Some(format!(
                "Object Lock mode {mode:?}, not {} (is Object Lock enabled on the bucket?)",
                self.target.lock_mode.as_str()
            ))
        } else if retain.and_then(parse_lock_date) != Some(until) {
            Some(format!("retain-until {retain:?}, not {}", lock_date(until)))
        } else {
            None
        }
    }

    /// HEAD: the object as stored must be the one sent (`sha256`: its checksum, base64, when
    /// it went in one PUT), locked as asked.
    async fn confirm(
        &self,
        key: &str,
        version: Option<&str>,
        len: u64,
        etag: &str,
        sha256: Option<&str>,
        until: DateTime<Utc>,
    ) -> Result<(), S3Error> {
        let response = self.head(key, version).await?;
        let header = |name: &str| {
            response
                .headers()
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(str::to_string)
        };
        let mut wrong = Vec::new();
        let size = header("content-length").and_then(|v| v.parse::<u64>().ok());
        if size != Some(len) {
            wrong.push(format!("size {size:?}, not {len}"));
        }
        // Under SSE-KMS or SSE-C the ETag is not the MD5 of the body: the stored checksum
        // (asked for with x-amz-checksum-mode) stands in for it where the store gives one.
        let encrypted = header("x-amz-server-side-encryption")
            .is_some_and(|v| v.starts_with("aws:kms"))
            || header("x-amz-server-side-encryption-customer-algorithm").is_some();
        let got_etag = header("etag").map(|e| e.trim_matches('"').to_string());
        if !encrypted && got_etag.as_deref() != Some(etag) {
            wrong.push(format!(
                "ETag {got_etag:?}, not {etag:?} (the MD5 of what was sent)"
            ));
        }
        if let (Some(sent), Some(stored)) = (sha256, header("x-amz-checksum-sha256")) {
            if stored != sent {
                wrong.push(format!("SHA-256 {stored}, not {sent}"));
            }
        }
        if let Some(problem) = self.lock_problem(response.headers(), until) {
            wrong.push(problem);
        }
        if wrong.is_empty() {
            Ok(())
        } else {
            Err(S3Error::Unconfirmed(wrong.join("; ")))
        }
    }

    /// HEAD of `key` (of its `version`).
    pub async fn head(
        &self,
        key: &str,
        version: Option<&str>,
    ) -> Result<reqwest::Response, S3Error> {
        let mut head = self.bucket.head_object(Some(&self.credentials), key);
        head.headers_mut().insert("x-amz-checksum-mode", "ENABLED");
        if let Some(v) = version {
            head.query_mut().insert("versionId", v.to_string());
        }
        let url = head.sign(SIGNED_FOR);
        let response = self
            .send(reqwest::Method::HEAD, &url, head.headers_mut(), None)
            .await?;
        if !response.status().is_success() {
            return Err(Self::refused("HeadObject", response).await);
        }
        Ok(response)
    }

    /// Reads `key` (its `version`) into the file at `to`, a chunk at a time.
    pub async fn get_to_file(
        &self,
        key: &str,
        version: Option<&str>,
        to: &Path,
    ) -> Result<u64, S3Error> {
        use std::io::Write;
        let mut get = self.bucket.get_object(Some(&self.credentials), key);
        if let Some(v) = version {
            get.query_mut().insert("versionId", v.to_string());
        }
        let url = get.sign(SIGNED_FOR);
        let mut response = self
            .send(reqwest::Method::GET, &url, get.headers_mut(), None)
            .await?;
        if !response.status().is_success() {
            return Err(Self::refused("GetObject", response).await);
        }
        let mut out = std::fs::File::create(to)?;
        let mut n = 0u64;
        while let Some(chunk) = response.chunk().await.map_err(CallError::from)? {
            out.write_all(&chunk)?;
            n += chunk.len() as u64;
        }
        out.sync_all()?;
        Ok(n)
    }
}

/// The version a store gave an object (at most 1,024 characters, as the history stores it;
/// a longer one is not a version this server could name again, so it is dropped).
fn version_of(response: &reqwest::Response) -> Option<String> {
    response
        .headers()
        .get("x-amz-version-id")
        .and_then(|v| v.to_str().ok())
        .filter(|v| !v.is_empty() && *v != "null" && v.len() <= 1024)
        .map(str::to_string)
}

/// Reads until `buf` is full or the file ends.
fn read_full(file: &mut std::fs::File, buf: &mut [u8]) -> std::io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match file.read(&mut buf[n..])? {
            0 => break,
            k => n += k,
        }
    }
    Ok(n)
}
