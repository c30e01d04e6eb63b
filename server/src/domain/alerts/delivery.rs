//! When a notification is tried again, and when it is given up: what an answer means (2xx
//! delivered; `410 Gone` the receiver asks never to be called again; anything else, or no
//! answer, is tried again), how long to wait (exponential backoff with jitter, or longer when
//! the receiver says so with `Retry-After`), and after how many attempts it is dead (until
//! someone redelivers it). Pure: the deliverer draws the jitter and reads the clock.

use std::time::Duration;

use chrono::{DateTime, TimeDelta, Utc};

/// How deliveries are retried.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RetryPolicy {
    /// The wait after the first failed attempt; each next one doubles it ...
    pub base: Duration,
    /// ... up to this.
    pub cap: Duration,
    /// Attempts before a delivery is dead.
    pub attempts: u32,
}

impl Default for RetryPolicy {
    /// 30 s, 1, 2, 4, 8, 16 and 32 min, then an hour between attempts: twelve attempts span
    /// some six hours (a receiver down for a deploy or a night's maintenance still gets it).
    fn default() -> Self {
        RetryPolicy {
            base: Duration::from_secs(30),
            cap: Duration::from_secs(3600),
            attempts: 12,
        }
    }
}

/// The longest wait a receiver's `Retry-After` is honoured for (a longer one waits this).
pub const MAX_RETRY_AFTER: Duration = Duration::from_secs(6 * 3600);

/// What one attempt came to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Verdict {
    Delivered,
    /// The receiver answered `410 Gone`: the channel is disabled, the delivery dead.
    Gone,
    /// Tried again at this instant.
    Retry(DateTime<Utc>),
    /// Given up: the attempts are spent.
    Dead,
}

impl RetryPolicy {
    /// The wait after failed attempt number `attempt` (1 for the first), with `jitter` in
    /// [0, 1) drawn by the caller: between half the backoff and the whole of it, so receivers
    /// that failed together are not called again together.
    pub fn backoff(&self, attempt: u32, jitter: f64) -> Duration {
        let doubled = self.base.saturating_mul(
            1u32.checked_shl(attempt.saturating_sub(1))
                .unwrap_or(u32::MAX),
        );
        let full = doubled.min(self.cap);
        full.mul_f64(0.5 + 0.5 * jitter.clamp(0.0, 1.0))
    }

    /// What attempt number `attempt`, answered `status` (None: no answer) with `retry_after`
    /// (the header as sent), comes to at `now`.
    pub fn verdict(
        &self,
        attempt: u32,
        give_up_after: u32,
        status: Option<u16>,
        retry_after: Option<&str>,
        now: DateTime<Utc>,
        jitter: f64,
    ) -> Verdict {
        match status {
            Some(s) if (200..300).contains(&s) => return Verdict::Delivered,
            Some(410) => return Verdict::Gone,
            _ => {}
        }
        if attempt >= give_up_after {
            return Verdict::Dead;
        }
        let mut wait = self.backoff(attempt, jitter);
        if let Some(asked) = retry_after.and_then(|h| parse_retry_after(h, now)) {
            wait = wait.max(asked.min(MAX_RETRY_AFTER));
        }
        Verdict::Retry(now + TimeDelta::from_std(wait).unwrap_or(TimeDelta::MAX))
    }
}

/// `Retry-After` as seconds or an HTTP date (RFC 9110), as a wait from `now`; `None` when it
/// reads as neither.
pub fn parse_retry_after(header: &str, now: DateTime<Utc>) -> Option<Duration> {
    let h = header.trim();
    if let Ok(secs) = h.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    let at = DateTime::parse_from_rfc2822(h).ok()?.with_timezone(&Utc);
    Some((at - now).to_std().unwrap_or(Duration::ZERO))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: &str) -> DateTime<Utc> {
        s.parse().unwrap()
    }

    #[test]
    fn backoff_doubles_up_to_its_cap_and_jitter_stays_within_half_and_whole() {
        let p = RetryPolicy::default();
        assert_eq!(p.backoff(1, 1.0), Duration::from_secs(30));
        assert_eq!(p.backoff(1, 0.0), Duration::from_secs(15));
        assert_eq!(p.backoff(3, 1.0), Duration::from_secs(120));
        assert_eq!(p.backoff(8, 1.0), Duration::from_secs(3600));
        assert_eq!(p.backoff(200, 1.0), Duration::from_secs(3600));
        for j in [0.0, 0.3, 0.99] {
            let d = p.backoff(4, j);
            assert!(d >= Duration::from_secs(120) && d <= Duration::from_secs(240));
        }
    }

    #[test]
    fn an_answer_is_delivered_gone_retried_or_dead() {
        let p = RetryPolicy::default();
        let now = t("2026-12-05T10:00:00Z");
        assert_eq!(
            p.verdict(1, 12, Some(204), None, now, 0.5),
            Verdict::Delivered
        );
        assert_eq!(p.verdict(1, 12, Some(410), None, now, 0.5), Verdict::Gone);
        assert_eq!(
            p.verdict(1, 12, Some(500), None, now, 1.0),
            Verdict::Retry(t("2026-12-05T10:00:30Z"))
        );
        assert_eq!(
            p.verdict(2, 12, None, None, now, 1.0),
            Verdict::Retry(t("2026-12-05T10:01:00Z"))
        );
        // A redirect is not followed, and not a delivery.
        assert!(matches!(
            p.verdict(1, 12, Some(302), None, now, 1.0),
            Verdict::Retry(_)
        ));
        assert_eq!(p.verdict(12, 12, Some(500), None, now, 1.0), Verdict::Dead);
        // A success on the last attempt is still a success.
        assert_eq!(
            p.verdict(12, 12, Some(200), None, now, 1.0),
            Verdict::Delivered
        );
    }

    #[test]
    fn retry_after_is_honoured_when_longer_and_bounded() {
        let p = RetryPolicy::default();
        let now = t("2026-12-05T10:00:00Z");
        assert_eq!(
            p.verdict(1, 12, Some(429), Some("120"), now, 1.0),
            Verdict::Retry(t("2026-12-05T10:02:00Z"))
        );
        // Shorter than the backoff: the backoff.
        assert_eq!(
            p.verdict(1, 12, Some(503), Some("1"), now, 1.0),
            Verdict::Retry(t("2026-12-05T10:00:30Z"))
        );
        assert_eq!(
            p.verdict(
                1,
                12,
                Some(503),
                Some("Sat, 05 Dec 2026 10:10:00 GMT"),
                now,
                1.0
            ),
            Verdict::Retry(t("2026-12-05T10:10:00Z"))
        );
        assert_eq!(
            p.verdict(1, 12, Some(503), Some("99999999"), now, 1.0),
            Verdict::Retry(t("2026-12-05T16:00:00Z"))
        );
        // Unreadable: ignored.
        assert_eq!(
            p.verdict(1, 12, Some(503), Some("soon"), now, 1.0),
            Verdict::Retry(t("2026-12-05T10:00:30Z"))
        );
        assert_eq!(
            parse_retry_after("Sat, 05 Dec 2026 09:00:00 GMT", now),
            Some(Duration::ZERO)
        );
    }
}
