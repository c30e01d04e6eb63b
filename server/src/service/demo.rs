//! A realistic, deterministic 90-day demo history: the same `count` and `until` always give
//! the same events. Produced lazily so ten million events need no more memory than one batch.

use std::net::IpAddr;

use app::model::{ActorType, Status};
use chrono::{DateTime, Duration, Utc};
use serde_json::{json, Value};

use crate::domain::entry::event::NewEvent;

/// SplitMix64: tiny, deterministic, good enough for demo data.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
    fn chance(&mut self, per_thousand: u64) -> bool {
        self.below(1000) < per_thousand
    }
    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len() as u64) as usize]
    }
}

pub const DEMO_USERS: &[(&str, &str)] = &[
    ("Avery Admin", "admin@company.com"),
    ("Casey Compliance", "compliance@company.com"),
    ("Ada Lovelace", "ada@company.com"),
    ("Grace Hopper", "grace@company.com"),
    ("Linus Berg", "linus@company.com"),
    ("Margaret Hamilton", "margaret@company.com"),
    ("Alan Turing", "alan@company.com"),
    ("Katherine Johnson", "katherine@company.com"),
    ("Dennis Ritchie", "dennis@company.com"),
    ("Barbara Liskov", "barbara@company.com"),
    ("Ken Thompson", "ken@company.com"),
    ("Frances Allen", "frances@company.com"),
    ("Edsger Dijkstra", "edsger@company.com"),
    ("Radia Perlman", "radia@company.com"),
    ("Donald Knuth", "donald@company.com"),
    ("Hedy Lamarr", "hedy@company.com"),
    ("Tim Berners", "tim@company.com"),
    ("Shafi Goldwasser", "shafi@company.com"),
    ("Leslie Lamport", "leslie@company.com"),
    ("Sophie Wilson", "sophie@company.com"),
    ("Niklaus Wirth", "niklaus@company.com"),
    ("Anita Borg", "anita@company.com"),
    ("Bjarne Stroustrup", "bjarne@company.com"),
    ("Jean Sammet", "jean@company.com"),
    ("Whitfield Diffie", "whitfield@company.com"),
];

const API_KEYS: &[(&str, &str)] = &[
    ("key_ci_deployer", "ci-deployer"),
    ("key_terraform", "terraform"),
    ("key_siem_export", "siem-export"),
];

const USER_AGENTS: &[&str] = &[
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_6) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Safari/605.1.15",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/142.0.0.0 Safari/537.36",
    "Mozilla/5.0 (X11; Linux x86_64; rv:145.0) Gecko/20100101 Firefox/145.0",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Mobile/15E148",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/142.0.0.0 Safari/537.36 Edg/142.0.0.0",
];
const TOOL_AGENTS: &[&str] = &[
    "terraform-provider-keeptrail/2.4.1",
    "curl/8.11.0",
    "python-requests/2.32.3",
];

/// (action, weight in thousandths)
const ACTIONS: &[(&str, u64)] = &[
    ("user.login", 170),
    ("user.logout", 100),
    ("user.login_failed", 20),
    ("2fa.enrolled", 10),
    ("config.created", 30),
    ("config.updated", 120),
    ("config.deployed", 60),
    ("config.deleted", 10),
    ("key.created", 20),
    ("key.rotated", 20),
    ("key.revoked", 10),
    ("user.invited", 20),
    ("user.role_changed", 10),
    ("user.deactivated", 5),
    ("export.created", 20),
    ("export.downloaded", 20),
    ("escalation.created", 50),
    ("escalation.resolved", 40),
    ("escalation.assigned", 40),
    ("kb.uploaded", 30),
    ("kb.promoted", 15),
    ("kb.bound", 15),
    ("kb.archived", 10),
];

const CONFIG_FIELDS: &[(&str, &[&str])] = &[
    ("rate_limit", &["100", "250", "500", "1000"]),
    ("retention_days", &["30", "90", "365", "400"]),
    ("model", &["gpt-4o", "claude-sonnet", "llama-3-70b"]),
    ("pii_redaction", &["off", "standard", "strict"]),
    ("region", &["eu-west-1", "us-east-1", "ap-southeast-2"]),
];

fn user_ip(user: usize, rng: &mut Rng) -> IpAddr {
    // Documentation ranges (RFC 5737 / RFC 3849): realistic shape, never a real host.
    if user % 5 == 4 {
        format!("2001:db8:{:x}::{:x}", 0x100 + user, 1 + rng.below(3))
            .parse()
            .unwrap()
    } else {
        let nets = ["203.0.113", "198.51.100", "192.0.2"];
        format!(
            "{}.{}",
            nets[user % 3],
            10 + user * 7 % 200 + rng.below(3) as usize
        )
        .parse()
        .unwrap()
    }
}

/// The demo events, oldest first, ending at `until`.
pub fn events(count: u64, until: DateTime<Utc>) -> impl Iterator<Item = NewEvent> {
    let span_ms = Duration::days(90).num_milliseconds() as u64;
    let start = until - Duration::days(90);
    let mut rng = Rng(0x7EA1_4EE9_2026_1125);
    let mut burst: Option<(u32, IpAddr, String)> = None;
    let mut burst_at = start;
    let total_weight: u64 = ACTIONS.iter().map(|(_, w)| w).sum();
    (0..count).map(move |i| {
        let base_ms = if count <= 1 {
            span_ms
        } else {
            span_ms * i / (count - 1)
        };
        let at = start + Duration::milliseconds(base_ms as i64);
        if let Some((left, ip, email)) = burst.take() {
            if left > 1 {
                burst = Some((left - 1, ip, email.clone()));
            }
            // A burst is seconds apart, whatever the spacing of the rest of the history.
            burst_at += Duration::milliseconds(1500 + rng.below(6000) as i64);
            let at = burst_at.min(until);
            let mut e = NewEvent::new("user.login_failed", ActorType::User, &email);
            e.record.actor_email = Some(email);
            e.occurred_at = Some(at);
            e.record.ip = Some(ip);
            e.record.user_agent = Some(TOOL_AGENTS[2].to_string());
            e.record.status = Status::Failure;
            e.record.details = json!({"reason": "bad_password", "burst": true});
            return e;
        }
        let mut roll = rng.below(total_weight);
        let action = ACTIONS
            .iter()
            .find(|(_, w)| {
                if roll < *w {
                    true
                } else {
                    roll -= w;
                    false
                }
            })
            .map(|(a, _)| *a)
            .unwrap_or("user.login");
        let user = rng.below(DEMO_USERS.len() as u64) as usize;
        let (name, email) = DEMO_USERS[user];
        let automated = matches!(
            action,
            "config.deployed" | "kb.uploaded" | "export.downloaded"
        ) && rng.chance(400);
        let mut e = if automated {
            let (kid, kname) = *rng.pick(API_KEYS);
            let mut e = NewEvent::new(action, ActorType::ApiKey, kid);
            e.record.actor_name = Some(kname.to_string());
            e.record.user_agent = Some(rng.pick(TOOL_AGENTS).to_string());
            e
        } else {
            let mut e = NewEvent::new(action, ActorType::User, &format!("u_{:02}", user + 1));
            e.record.actor_name = Some(name.to_string());
            e.record.actor_email = Some(email.to_string());
            e.record.user_agent =
                Some(USER_AGENTS[(user + i as usize / 5000) % USER_AGENTS.len()].to_string());
            e
        };
        e.occurred_at = Some(at);
        e.record.ip = Some(user_ip(user, &mut rng));
        let request_id = format!("req_{:016x}", rng.next());
        let (resource, details) = details_for(action, &mut rng, &request_id);
        (e.record.resource_type, e.record.resource_id) = resource.unzip();
        e.record.details = details;
        if action == "user.login_failed" {
            e.record.status = Status::Failure;
            // Now and then an attacker hammers an account from one address.
            if rng.chance(150) {
                let ip: IpAddr = format!(
                    "45.{}.{}.{}",
                    60 + rng.below(40),
                    rng.below(255),
                    1 + rng.below(250)
                )
                .parse()
                .unwrap();
                burst = Some((4 + rng.below(12) as u32, ip, email.to_string()));
                burst_at = at;
            }
        } else if rng.chance(12) {
            e.record.status = Status::Failure;
            if let Value::Object(map) = &mut e.record.details {
                map.insert(
                    "error".into(),
                    json!(*rng.pick(&["permission_denied", "validation_failed", "timeout"])),
                );
            }
        }
        e
    })
}

fn details_for(action: &str, rng: &mut Rng, request_id: &str) -> (Option<(String, String)>, Value) {
    let request = |method: &str, path: String| json!({"method": method, "path": path, "request_id": request_id});
    let res = |t: &str, id: String| Some((t.to_string(), id));
    match action {
        "user.login" | "user.logout" | "2fa.enrolled" => {
            let method = if action == "2fa.enrolled" {
                "totp"
            } else {
                *rng.pick(&["password", "sso", "password+totp"])
            };
            (
                None,
                json!({"method": method, "request": request("POST", "/api/session".into())}),
            )
        }
        "user.login_failed" => (
            None,
            json!({"reason": *rng.pick(&["bad_password", "unknown_user", "totp_mismatch"])}),
        ),
        a if a.starts_with("config.") => {
            let id = format!("cfg_{}", 1 + rng.below(40));
            let path = format!("/api/configs/{id}");
            let details = match a {
                "config.updated" => {
                    let (field, values) = rng.pick(CONFIG_FIELDS);
                    let before = rng.pick(values);
                    let after = values.iter().find(|v| *v != before).unwrap_or(before);
                    json!({"changes": {*field: {"before": before, "after": after}}, "request": request("PATCH", path)})
                }
                "config.deployed" => {
                    json!({"environment": *rng.pick(&["production", "staging"]), "version": 1 + rng.below(300), "request": request("POST", path + "/deploy")})
                }
                "config.created" => {
                    json!({"name": format!("policy-{}", rng.below(1000)), "request": request("POST", "/api/configs".into())})
                }
                _ => json!({"request": request("DELETE", path)}),
            };
            (res("config", id), details)
        }
        a if a.starts_with("key.") => {
            let id = format!("key_{:06x}", rng.below(0xFFFFFF));
            (
                res("api_key", id.clone()),
                json!({"scopes": ["ingest"], "request": request("POST", format!("/api/keys/{id}"))}),
            )
        }
        "user.invited" | "user.role_changed" | "user.deactivated" => {
            let target = rng.below(DEMO_USERS.len() as u64) as usize;
            let details = if action == "user.role_changed" {
                let roles = ["member", "compliance", "admin"];
                let before = rng.below(3) as usize;
                json!({"changes": {"role": {"before": roles[before], "after": roles[(before + 1) % 3]}}})
            } else {
                json!({"email": DEMO_USERS[target].1})
            };
            (res("user", format!("u_{:02}", target + 1)), details)
        }
        a if a.starts_with("export.") => (
            res("export", format!("exp_{}", rng.below(100_000))),
            json!({"format": *rng.pick(&["csv", "json", "pdf"]), "rows": rng.below(50_000)}),
        ),
        a if a.starts_with("escalation.") => {
            let details = match a {
                "escalation.assigned" => json!({"assignee": DEMO_USERS[rng.below(25) as usize].1}),
                "escalation.resolved" => {
                    json!({"resolution": *rng.pick(&["fixed", "false_positive", "accepted_risk"])})
                }
                _ => {
                    json!({"severity": *rng.pick(&["low", "medium", "high", "critical"]), "title": "Policy violation detected"})
                }
            };
            (
                res("escalation", format!("esc_{}", 1000 + rng.below(4000))),
                details,
            )
        }
        _ => (
            res("kb_document", format!("kb_{}", rng.below(500))),
            json!({"filename": format!("handbook-{}.pdf", rng.below(50)), "size_bytes": 10_000 + rng.below(5_000_000)}),
        ),
    }
}

/// Appends `count` events of the demo history in batches through the ordinary append path,
/// calling `progress(done, rate per second)` after each batch; returns how many were appended.
pub async fn seed_events(
    pool: &sqlx::PgPool,
    source: app::model::Source,
    count: u64,
    until: DateTime<Utc>,
    mut progress: impl FnMut(u64, f64),
) -> Result<u64, crate::storage::entries::AppendError> {
    const BATCH: usize = 5000;
    let started = std::time::Instant::now();
    let mut done = 0u64;
    let mut events = events(count, until).peekable();
    while events.peek().is_some() {
        let batch: Vec<_> = events.by_ref().take(BATCH).collect();
        let n = batch.len() as u64;
        crate::storage::entries::append(pool, source, batch).await?;
        done += n;
        progress(
            done,
            done as f64 / started.elapsed().as_secs_f64().max(1e-3),
        );
    }
    Ok(done)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn deterministic_and_complete() {
        let until = DateTime::parse_from_rfc3339("2026-11-25T00:00:00Z")
            .unwrap()
            .to_utc();
        let a: Vec<NewEvent> = events(20_000, until).collect();
        let b: Vec<NewEvent> = events(20_000, until).collect();
        assert_eq!(a, b);
        assert_eq!(a.len(), 20_000);
        let actions: HashSet<&str> = a.iter().map(|e| e.record.action.as_str()).collect();
        for (action, _) in ACTIONS {
            assert!(actions.contains(action), "{action} missing");
        }
        let failures = a
            .iter()
            .filter(|e| e.record.status == Status::Failure)
            .count();
        let rate = failures as f64 / a.len() as f64;
        assert!((0.015..0.08).contains(&rate), "failure rate {rate}");
        assert!(a.iter().all(|e| e.occurred_at.unwrap() <= until));
        assert!(a.iter().any(|e| e.record.ip.is_some_and(|ip| ip.is_ipv6())));
        for e in &a {
            app::action::validate_action(&e.record.action).unwrap();
        }
    }
}
