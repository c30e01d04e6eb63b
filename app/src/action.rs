//! Action names and the patterns that select them, the one definition: an action is two or
//! more segments of `[a-z0-9_]` joined by `.`, at most [`MAX_ACTION_LEN`] bytes
//! (`config.updated`, `2fa.enrolled`); a pattern is an action exactly or `prefix.*` for every
//! action under whole segments. Ingest validates with [`validate_action`], the filter's
//! `action=` patterns with [`ActionPattern::parse`], and the database's CHECK repeats the rule
//! as defence in depth (migrations/0001_init.sql).

use std::fmt;

use serde::{Deserialize, Serialize};

/// The longest action name, in bytes.
pub const MAX_ACTION_LEN: usize = 128;

/// Whether `segment` is one segment of an action name: non-empty, of `[a-z0-9_]`.
pub fn is_action_segment(segment: &str) -> bool {
    !segment.is_empty()
        && segment
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
}

/// Whether `s` is one or more segments joined by `.` within the length limit: what precedes
/// `.*` in a filter pattern (a category, or a longer prefix of action names).
pub fn is_action_prefix(s: &str) -> bool {
    s.len() <= MAX_ACTION_LEN && s.split('.').all(is_action_segment)
}

/// Checks an action name; the error says how to write one.
pub fn validate_action(action: &str) -> Result<(), String> {
    if action.len() > MAX_ACTION_LEN {
        return Err(format!("must be at most {MAX_ACTION_LEN} characters"));
    }
    if is_action_prefix(action) && action.contains('.') {
        Ok(())
    } else {
        Err("must be two or more segments of [a-z0-9_] joined by '.', e.g. config.updated".into())
    }
}

/// The category of an action name: the part before the first `.`, except that sign-in events
/// (`user.login`, `user.logout`, `user.login_failed`, `2fa.*`) form `auth`, apart from user
/// management, as users of audit consoles expect.
pub fn action_category(action: &str) -> &str {
    let first = action.split('.').next().unwrap_or(action);
    match (first, action) {
        ("2fa" | "auth" | "session", _) => "auth",
        (_, "user.login" | "user.logout" | "user.login_failed") => "auth",
        _ => first,
    }
}

/// `auth` → `Authentication`; unknown categories are shown capitalised.
pub fn category_label(category: &str) -> String {
    match category {
        "auth" => "Authentication".into(),
        "config" => "Configuration".into(),
        "key" => "Keys".into(),
        "user" => "Users".into(),
        "export" => "Exports".into(),
        "escalation" => "Escalations".into(),
        "kb" => "Knowledge Base".into(),
        other => {
            let mut c = other.chars();
            match c.next() {
                Some(first) => first.to_uppercase().chain(c).collect(),
                None => String::new(),
            }
        }
    }
}

/// `user.login` exactly, or `config.*`: every action under `config.`.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum ActionPattern {
    Exact(String),
    /// The segments before `.*`, e.g. `config` for `config.*`.
    Under(String),
}

impl ActionPattern {
    pub fn parse(s: &str) -> Result<Self, String> {
        let (body, wildcard) = match s.strip_suffix(".*") {
            Some(prefix) => (prefix, true),
            None => (s, false),
        };
        if s.len() > MAX_ACTION_LEN || !is_action_prefix(body) {
            return Err(if s.contains('*') {
                format!("{s:?}: a wildcard covers whole segments only, as in config.*")
            } else {
                format!("{s:?} is not an action (segments of a-z, 0-9, _ joined by '.')")
            });
        }
        if wildcard {
            Ok(ActionPattern::Under(body.to_string()))
        } else if !body.contains('.') {
            Err(format!(
                "{s:?} is not an action; for every action under it write {s}.*"
            ))
        } else {
            Ok(ActionPattern::Exact(body.to_string()))
        }
    }

    /// Whether `action` is matched.
    pub fn matches(&self, action: &str) -> bool {
        match self {
            ActionPattern::Exact(a) => a == action,
            ActionPattern::Under(p) => action
                .strip_prefix(p.as_str())
                .is_some_and(|rest| rest.starts_with('.')),
        }
    }
}

impl fmt::Display for ActionPattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ActionPattern::Exact(a) => f.write_str(a),
            ActionPattern::Under(p) => write!(f, "{p}.*"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn action_rule() {
        assert!(validate_action("config.updated").is_ok());
        assert!(validate_action("2fa.enrolled").is_ok());
        assert!(validate_action("a.b.c_d").is_ok());
        for bad in [
            "config",
            "Config.updated",
            "config..x",
            ".x",
            "x.",
            "config.up-dated",
            "ç.a",
        ] {
            assert!(validate_action(bad).is_err(), "{bad}");
        }
        assert!(validate_action(&format!("a.{}", "b".repeat(126))).is_ok());
        assert!(validate_action(&format!("a.{}", "b".repeat(127))).is_err());
    }

    #[test]
    fn category_is_first_segment() {
        assert_eq!(action_category("config.updated"), "config");
        assert_eq!(action_category("user.invited"), "user");
        assert_eq!(action_category("user.login_failed"), "auth");
        assert_eq!(action_category("2fa.enrolled"), "auth");
    }

    #[test]
    fn patterns_match() {
        let p = ActionPattern::parse("config.*").unwrap();
        assert!(p.matches("config.updated") && p.matches("config.a.b"));
        assert!(!p.matches("configs.updated") && !p.matches("config"));
    }
}
