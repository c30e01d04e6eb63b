//! What a notification says, in each of its forms: the Standard Webhooks JSON body (`type`,
//! `timestamp`, `data`), a Slack-compatible body (`text`), and an email's subject and plain
//! text. All are built from one [`Notice`]: the rule, the alert, its first entries and a
//! console link to the entries that triggered it (the rule's filter, narrowed to the alert's
//! group, over the alert's window). Built once per delivery, at its first attempt, and sent
//! unchanged on every retry.

use app::filter::{Filter, ResourcePattern, TimeBound, TimeWindow};
use app::model::AuditEntry;
use chrono::{DateTime, SecondsFormat, TimeDelta, Utc};
use serde::Serialize;
use uuid::Uuid;

use super::rule::GroupBy;

/// The rule as a notification states it.
#[derive(Clone, Debug, Serialize)]
pub struct RuleFacts {
    pub id: Uuid,
    pub name: String,
    pub severity: String,
    pub condition: String,
    /// The audit log's filter, as in its URL.
    pub filter: String,
    pub at_least: Option<i32>,
    pub window_secs: Option<i32>,
    pub group_by: Option<String>,
}

/// The alert as a notification states it.
#[derive(Clone, Debug, Serialize)]
pub struct AlertFacts {
    pub id: Uuid,
    /// `fired`, `resolved` or `batch`.
    pub kind: String,
    /// The group's value (`null` when the rule is not grouped).
    pub group: Option<String>,
    pub at: DateTime<Utc>,
    pub since: DateTime<Utc>,
    pub count: i64,
    /// Groups left out because the rule tracks at most 1,000.
    pub overflow: i64,
}

/// One notification's content.
#[derive(Clone, Debug, Serialize)]
pub struct Notice {
    /// `alert.fired`, `alert.resolved`, `alert.batch`, or `trailkeep.test`.
    #[serde(rename = "type")]
    pub kind: String,
    pub rule: Option<RuleFacts>,
    pub alert: Option<AlertFacts>,
    /// The first entries (at most ten; `alert.count` says how many there were).
    pub entries: Vec<AuditEntry>,
    /// First entries left out so the body stays under [`BODY_MAX`] (large details).
    pub entries_omitted: usize,
    /// The console, showing the entries that triggered the alert.
    pub link: String,
    pub site: String,
}

/// The filter that shows an alert's entries: the rule's, narrowed to the group's value, over
/// `from`..=`to` (whole seconds, so the last entry is in).
pub fn alert_filter(
    rule: &Filter,
    group_by: Option<GroupBy>,
    group: Option<&str>,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> Filter {
    let mut f = rule.clone();
    if let (Some(by), Some(value)) = (group_by, group) {
        match by {
            GroupBy::Actor => f.users = vec![value.to_string()],
            GroupBy::Ip => {
                if let Ok(ip) = app::filter::IpBlock::parse(value) {
                    f.ip = Some(ip);
                }
            }
            GroupBy::Resource => {
                if let Some((kind, id)) = value.split_once(':') {
                    f.resource = Some(ResourcePattern::Exact {
                        kind: kind.to_string(),
                        id: id.to_string(),
                    });
                }
            }
            GroupBy::Source => {
                if let Some(s) = app::model::Source::parse(value) {
                    f.source = Some(s);
                }
            }
        }
    }
    let whole =
        |t: DateTime<Utc>| t - TimeDelta::nanoseconds(i64::from(t.timestamp_subsec_nanos()));
    f.time = TimeWindow::Between {
        from: Some(TimeBound::Instant(whole(from))),
        to: Some(TimeBound::Instant(whole(to) + TimeDelta::seconds(1))),
    };
    f
}

/// The window an alert's entries fall in: a threshold's window before it fired, the alert's
/// span otherwise.
pub fn alert_span(
    kind: &str,
    since: DateTime<Utc>,
    at: DateTime<Utc>,
    window: Option<TimeDelta>,
) -> (DateTime<Utc>, DateTime<Utc>) {
    match (kind, window) {
        ("fired", Some(w)) => (since - w, at),
        _ => (since, at),
    }
}

/// `base` (the console's public address, if configured) and the audit log's path for `f`.
pub fn link(base: Option<&str>, f: &Filter) -> String {
    let path = format!("/audit?{}", f.to_query_string());
    match base {
        Some(b) => format!("{}{path}", b.trim_end_matches('/')),
        None => path,
    }
}

/// The most a notification's body may hold (the deliveries table's bound).
pub const BODY_MAX: usize = 1024 * 1024;

impl Notice {
    /// `body` of this notice, with as many of its first entries as keep it under
    /// [`BODY_MAX`] (those left out are counted in `entries_omitted`).
    pub fn bounded(mut self, body: impl Fn(&Notice) -> String) -> String {
        loop {
            let text = body(&self);
            if text.len() <= BODY_MAX || self.entries.is_empty() {
                return text;
            }
            let keep = self.entries.len() / 2;
            self.entries_omitted += self.entries.len() - keep;
            self.entries.truncate(keep);
        }
    }

    /// The Standard Webhooks body: `{"type", "timestamp", "data"}`.
    pub fn standard_body(&self) -> String {
        let at = self.alert.as_ref().map_or_else(Utc::now, |a| a.at);
        serde_json::json!({
            "type": self.kind,
            "timestamp": at.to_rfc3339_opts(SecondsFormat::Millis, true),
            "data": self,
        })
        .to_string()
    }

    /// A body Slack's incoming webhooks (and Mattermost's, and Teams' workflows) take.
    pub fn slack_body(&self) -> String {
        serde_json::json!({ "text": format!("{}\n{}", self.headline(), self.link) }).to_string()
    }

    /// One line: what happened, to which rule.
    pub fn headline(&self) -> String {
        let (Some(rule), Some(a)) = (&self.rule, &self.alert) else {
            return format!("[{}] Test notification: this channel works", self.site);
        };
        let group = a
            .group
            .as_ref()
            .map(|g| format!(" for {g}"))
            .unwrap_or_default();
        let what = match a.kind.as_str() {
            "fired" if rule.condition == "absence" => "fired: no matching entry".to_string(),
            "fired" => format!("fired: {} matching entries", a.count),
            "resolved" => "resolved".to_string(),
            _ => format!("{} new matching entries", a.count),
        };
        format!(
            "[{}] {} {}{group} {what} ({})",
            self.site,
            rule.severity.to_uppercase(),
            rule.name,
            a.at.to_rfc3339_opts(SecondsFormat::Secs, true)
        )
    }

    /// An email's subject and plain-text body.
    pub fn email(&self) -> (String, String) {
        let mut text = format!("{}\n\n", self.headline());
        if let (Some(rule), Some(a)) = (&self.rule, &self.alert) {
            text.push_str(&format!(
                "Rule: {} ({})\nFilter: {}\n",
                rule.name, rule.condition, rule.filter
            ));
            text.push_str(&format!(
                "Since: {}\nAt: {}\nCount: {}\n",
                a.since.to_rfc3339_opts(SecondsFormat::Secs, true),
                a.at.to_rfc3339_opts(SecondsFormat::Secs, true),
                a.count
            ));
            if a.overflow > 0 {
                text.push_str(&format!("Groups left out (over 1,000): {}\n", a.overflow));
            }
        }
        if !self.entries.is_empty() {
            text.push_str(&format!("\nFirst {} entries:\n", self.entries.len()));
            for e in &self.entries {
                text.push_str(&format!(
                    "  #{} {} {} by {}{}\n",
                    e.seq,
                    e.recorded_at.to_rfc3339_opts(SecondsFormat::Secs, true),
                    e.action,
                    e.actor.email.as_deref().unwrap_or(&e.actor.id),
                    e.ip.as_deref()
                        .map(|ip| format!(" from {ip}"))
                        .unwrap_or_default()
                ));
            }
        }
        text.push_str(&format!("\nOpen in the console: {}\n", self.link));
        (self.headline(), text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_link_narrows_the_rule_to_the_group_and_the_window() {
        let rule = Filter::parse("action=user.login_failed").unwrap();
        let at: DateTime<Utc> = "2026-12-05T10:00:58.700Z".parse().unwrap();
        let since: DateTime<Utc> = "2026-12-05T10:00:28.100Z".parse().unwrap();
        let (from, to) = alert_span("fired", since, at, Some(TimeDelta::minutes(10)));
        let f = alert_filter(&rule, Some(GroupBy::Ip), Some("203.0.113.7"), from, to);
        let l = link(Some("https://audit.example.com/"), &f);
        assert!(l.starts_with("https://audit.example.com/audit?"), "{l}");
        let back = Filter::parse(l.split_once('?').unwrap().1).unwrap();
        assert_eq!(back, f);
        assert_eq!(back.ip.unwrap().to_string(), "203.0.113.7");
        assert_eq!(
            back.time,
            TimeWindow::Between {
                from: Some(TimeBound::Instant("2026-12-05T09:50:28Z".parse().unwrap())),
                to: Some(TimeBound::Instant("2026-12-05T10:00:59Z".parse().unwrap())),
            }
        );
        // Without a public address: the path.
        assert!(link(None, &f).starts_with("/audit?"));
    }

    #[test]
    fn bodies_state_the_rule_the_alert_and_the_link() {
        let n = Notice {
            kind: "alert.fired".into(),
            rule: Some(RuleFacts {
                id: Uuid::nil(),
                name: "Failed sign-ins".into(),
                severity: "critical".into(),
                condition: "threshold".into(),
                filter: "action=user.login_failed".into(),
                at_least: Some(5),
                window_secs: Some(600),
                group_by: Some("ip".into()),
            }),
            alert: Some(AlertFacts {
                id: Uuid::nil(),
                kind: "fired".into(),
                group: Some("203.0.113.7".into()),
                at: "2026-12-05T10:00:58Z".parse().unwrap(),
                since: "2026-12-05T10:00:28Z".parse().unwrap(),
                count: 9,
                overflow: 0,
            }),
            entries: vec![],
            entries_omitted: 0,
            link: "https://audit.example.com/?action=user.login_failed".into(),
            site: "Trailkeep".into(),
        };
        let body: serde_json::Value = serde_json::from_str(&n.standard_body()).unwrap();
        assert_eq!(body["type"], "alert.fired");
        assert_eq!(body["timestamp"], "2026-12-05T10:00:58.000Z");
        assert_eq!(body["data"]["alert"]["count"], 9);
        assert_eq!(body["data"]["rule"]["name"], "Failed sign-ins");
        assert_eq!(body["data"]["link"], n.link);
        let slack: serde_json::Value = serde_json::from_str(&n.slack_body()).unwrap();
        assert_eq!(
            slack["text"],
            "[Trailkeep] CRITICAL Failed sign-ins for 203.0.113.7 fired: 9 matching entries \
             (2026-12-05T10:00:58Z)\nhttps://audit.example.com/?action=user.login_failed"
        );
        let (subject, text) = n.email();
        assert!(subject.contains("Failed sign-ins"));
        assert!(text.contains("Count: 9") && text.contains(&n.link));
    }

    #[test]
    fn a_body_stays_under_its_bound_however_large_the_entries() {
        // Ten entries of 64 KiB of control characters each: escaped, they would be 2.3 MiB.
        let entry: AuditEntry = serde_json::from_value(serde_json::json!({
            "id": Uuid::nil(), "seq": 1, "occurred_at": "2026-12-05T10:00:00Z",
            "recorded_at": "2026-12-05T10:00:00Z", "action": "doc.viewed",
            "actor": {"type": "user", "id": "a", "name": null, "email": null},
            "resource": null, "ip": null, "user_agent": null, "status": "success",
            "details": {"blob": "\u{1}".repeat(40_000)}, "source": null, "source_name": null,
            "form": 2, "leaf_hash": "00",
        }))
        .unwrap();
        let n = Notice {
            kind: "alert.batch".into(),
            rule: None,
            alert: None,
            entries: vec![entry; 10],
            entries_omitted: 0,
            link: "/".into(),
            site: "Trailkeep".into(),
        };
        assert!(n.standard_body().len() > BODY_MAX);
        let body: serde_json::Value =
            serde_json::from_str(&n.bounded(Notice::standard_body)).unwrap();
        let kept = body["data"]["entries"].as_array().unwrap().len();
        assert!(kept > 0 && kept < 10, "{kept}");
        assert_eq!(body["data"]["entries_omitted"], 10 - kept);
    }
}
