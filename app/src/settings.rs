//! The settings an admin changes on the Settings page, one shape from the form through the
//! server to the `settings` table: each field's bounds are checked here (the words of the
//! refusal say how to fix it) and again by the table's CHECKs. Until an admin first saves, the
//! server's environment gives the values (`TRAILKEEP_SITE_NAME`, `TRAILKEEP_INVITATION_HOURS`,
//! `TRAILKEEP_LATE_RECORD_SECONDS`).

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::model::Role;

/// Who must sign in with a second factor. Such a user, signed in without one, is sent to
/// `/account` to set it up and can do nothing else until they have.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum TwoFactorRequirement {
    Nobody,
    Admins,
    Everyone,
}

impl TwoFactorRequirement {
    pub const ALL: [TwoFactorRequirement; 3] = [
        TwoFactorRequirement::Nobody,
        TwoFactorRequirement::Admins,
        TwoFactorRequirement::Everyone,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            TwoFactorRequirement::Nobody => "nobody",
            TwoFactorRequirement::Admins => "admins",
            TwoFactorRequirement::Everyone => "everyone",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|r| r.as_str() == s)
    }

    /// What the Settings page's choice says.
    pub fn label(self) -> &'static str {
        match self {
            TwoFactorRequirement::Nobody => "Optional for everyone",
            TwoFactorRequirement::Admins => "Required for admins",
            TwoFactorRequirement::Everyone => "Required for everyone",
        }
    }

    /// Whether a user of `role` must have a second factor.
    pub fn applies_to(self, role: Role) -> bool {
        match self {
            TwoFactorRequirement::Nobody => false,
            TwoFactorRequirement::Admins => role == Role::Admin,
            TwoFactorRequirement::Everyone => true,
        }
    }
}

/// Every setting, as stored and as the page edits it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Settings {
    /// In the top bar, the navigation, the sign-in page, authenticator apps and PDF reports.
    pub site_name: String,
    /// Wrong passwords (or codes) for one account from one address block that lock it there.
    pub lockout_failures: u32,
    /// How long the lockout (and the window that counts failures) lasts.
    pub lockout_minutes: u32,
    /// How long a session lasts after sign-in, however active.
    pub session_hours: u32,
    /// A session unused this long ends.
    pub idle_minutes: u32,
    /// How long an invitation link stays usable.
    pub invitation_hours: u32,
    pub require_two_factor: TwoFactorRequirement,
    /// The detail panel marks an entry recorded this long after it occurred.
    pub late_record_seconds: u32,
}

/// One field's bounds: its name in the form and in `details.changes`, its words, its range.
pub struct Bound {
    pub field: &'static str,
    pub label: &'static str,
    pub unit: &'static str,
    pub min: u32,
    pub max: u32,
}

pub const LOCKOUT_FAILURES: Bound = Bound {
    field: "lockout_failures",
    label: "Wrong passwords before lockout",
    unit: "attempts",
    min: 3,
    max: 50,
};
pub const LOCKOUT_MINUTES: Bound = Bound {
    field: "lockout_minutes",
    label: "Lockout",
    unit: "minutes",
    min: 1,
    max: 1440,
};
pub const SESSION_HOURS: Bound = Bound {
    field: "session_hours",
    label: "Session lifetime",
    unit: "hours",
    min: 1,
    max: 720,
};
pub const IDLE_MINUTES: Bound = Bound {
    field: "idle_minutes",
    label: "Idle timeout",
    unit: "minutes",
    min: 5,
    max: 43_200,
};
pub const INVITATION_HOURS: Bound = Bound {
    field: "invitation_hours",
    label: "Invitation validity",
    unit: "hours",
    min: 1,
    max: 720,
};
pub const LATE_RECORD_SECONDS: Bound = Bound {
    field: "late_record_seconds",
    label: "Late-record note after",
    unit: "seconds",
    min: 1,
    max: 604_800,
};

/// The numeric fields, in the form's order.
pub const NUMBERS: [&Bound; 6] = [
    &LOCKOUT_FAILURES,
    &LOCKOUT_MINUTES,
    &SESSION_HOURS,
    &IDLE_MINUTES,
    &INVITATION_HOURS,
    &LATE_RECORD_SECONDS,
];

/// Longest site name, in characters.
pub const SITE_NAME_MAX: usize = 80;

/// Whether `c` has no place in a one-line name: a control character, or a line or paragraph
/// separator (which PostgreSQL's `[[:cntrl:]]` also refuses).
pub fn breaks_a_line(c: char) -> bool {
    c.is_control() || matches!(c, '\u{2028}' | '\u{2029}')
}

impl Settings {
    /// The value of numeric field `bound`.
    pub fn number(&self, bound: &Bound) -> u32 {
        match bound.field {
            "lockout_failures" => self.lockout_failures,
            "lockout_minutes" => self.lockout_minutes,
            "session_hours" => self.session_hours,
            "idle_minutes" => self.idle_minutes,
            "invitation_hours" => self.invitation_hours,
            _ => self.late_record_seconds,
        }
    }

    /// Sets numeric field `bound` to `value` (unchecked: [`Settings::checked`] checks).
    pub fn set_number(&mut self, bound: &Bound, value: u32) {
        match bound.field {
            "lockout_failures" => self.lockout_failures = value,
            "lockout_minutes" => self.lockout_minutes = value,
            "session_hours" => self.session_hours = value,
            "idle_minutes" => self.idle_minutes = value,
            "invitation_hours" => self.invitation_hours = value,
            _ => self.late_record_seconds = value,
        }
    }

    /// These settings with the site name trimmed, or the first field out of its bounds.
    pub fn checked(mut self) -> Result<Settings, SettingsRefusal> {
        self.site_name = self.site_name.trim().to_string();
        if self.site_name.is_empty() {
            return Err(SettingsRefusal::NoSiteName);
        }
        if self.site_name.chars().count() > SITE_NAME_MAX || self.site_name.contains(breaks_a_line)
        {
            return Err(SettingsRefusal::SiteName);
        }
        for bound in NUMBERS {
            let value = self.number(bound);
            if !(bound.min..=bound.max).contains(&value) {
                return Err(SettingsRefusal::OutOfRange {
                    field: bound.field.to_string(),
                    min: bound.min,
                    max: bound.max,
                });
            }
        }
        if u64::from(self.idle_minutes) > u64::from(self.session_hours) * 60 {
            return Err(SettingsRefusal::IdleLongerThanSession);
        }
        Ok(self)
    }

    /// Each field that differs from `before`, as `{field: {before, after}}` for the
    /// `settings.updated` entry.
    pub fn changes_from(&self, before: &Settings) -> serde_json::Map<String, serde_json::Value> {
        let mut changes = serde_json::Map::new();
        let mut note = |field: &str, b: serde_json::Value, a: serde_json::Value| {
            if b != a {
                changes.insert(
                    field.to_string(),
                    serde_json::json!({"before": b, "after": a}),
                );
            }
        };
        note(
            "site_name",
            before.site_name.clone().into(),
            self.site_name.clone().into(),
        );
        for bound in NUMBERS {
            note(
                bound.field,
                before.number(bound).into(),
                self.number(bound).into(),
            );
        }
        note(
            "require_two_factor",
            before.require_two_factor.as_str().into(),
            self.require_two_factor.as_str().into(),
        );
        changes
    }
}

/// Why settings were not saved, in words that say what to fix.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum SettingsRefusal {
    NoSiteName,
    /// Longer than [`SITE_NAME_MAX`], or holding a control character.
    SiteName,
    /// A number outside its bounds: the field (as in [`NUMBERS`]) and the bounds.
    OutOfRange {
        field: String,
        min: u32,
        max: u32,
    },
    /// The idle timeout is longer than the session lifetime, so it would never apply.
    IdleLongerThanSession,
    /// Nothing differs from what is saved.
    Unchanged,
}

impl fmt::Display for SettingsRefusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SettingsRefusal::NoSiteName => f.write_str("Give the site a name."),
            SettingsRefusal::SiteName => write!(
                f,
                "The site name is one line of at most {SITE_NAME_MAX} characters: shorten it."
            ),
            SettingsRefusal::OutOfRange { field, min, max } => {
                let (label, unit) = NUMBERS
                    .iter()
                    .find(|b| b.field == field)
                    .map_or((field.as_str(), ""), |b| (b.label, b.unit));
                write!(f, "{label}: give a whole number from {min} to {max} {unit}.")
            }
            SettingsRefusal::IdleLongerThanSession => f.write_str(
                "The idle timeout is longer than the session lifetime, so it would never apply: shorten it or lengthen the session.",
            ),
            SettingsRefusal::Unchanged => f.write_str("Nothing was changed."),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn defaults() -> Settings {
        Settings {
            site_name: "Trailkeep".into(),
            lockout_failures: 5,
            lockout_minutes: 15,
            session_hours: 12,
            idle_minutes: 120,
            invitation_hours: 72,
            require_two_factor: TwoFactorRequirement::Nobody,
            late_record_seconds: 300,
        }
    }

    #[test]
    fn bounds_are_checked_and_named() {
        assert_eq!(defaults().checked(), Ok(defaults()));
        for bound in NUMBERS {
            for bad in [bound.min - 1, bound.max + 1] {
                let mut s = defaults();
                s.set_number(bound, bad);
                let refusal = s.checked().unwrap_err();
                assert!(
                    matches!(&refusal, SettingsRefusal::OutOfRange { field, .. } if field == bound.field)
                        || (bound.field == "idle_minutes"
                            && refusal == SettingsRefusal::IdleLongerThanSession),
                    "{} = {bad}: {refusal:?}",
                    bound.field
                );
                assert!(refusal.to_string().contains(bound.label) || bound.field == "idle_minutes");
            }
        }
        let mut s = defaults();
        s.site_name = "  \n ".into();
        assert_eq!(s.checked(), Err(SettingsRefusal::NoSiteName));
        let mut s = defaults();
        s.site_name = "a\tb".into();
        assert_eq!(s.checked(), Err(SettingsRefusal::SiteName));
        let mut s = defaults();
        s.site_name = "Acme\u{2028}Corp".into();
        assert_eq!(s.checked(), Err(SettingsRefusal::SiteName));
        let mut s = defaults();
        s.site_name = " Acme ".into();
        assert_eq!(s.checked().unwrap().site_name, "Acme");
    }

    #[test]
    fn changes_name_only_what_differs() {
        let before = defaults();
        let mut after = defaults();
        after.lockout_failures = 7;
        after.require_two_factor = TwoFactorRequirement::Admins;
        let changes = after.changes_from(&before);
        assert_eq!(changes.len(), 2);
        assert_eq!(
            changes["lockout_failures"],
            serde_json::json!({"before": 5, "after": 7})
        );
        assert_eq!(
            changes["require_two_factor"],
            serde_json::json!({"before": "nobody", "after": "admins"})
        );
    }

    #[test]
    fn requirement_applies_by_role() {
        use TwoFactorRequirement::*;
        assert!(!Nobody.applies_to(Role::Admin));
        assert!(Admins.applies_to(Role::Admin) && !Admins.applies_to(Role::Member));
        assert!(Everyone.applies_to(Role::Member));
        for r in TwoFactorRequirement::ALL {
            assert_eq!(TwoFactorRequirement::parse(r.as_str()), Some(r));
        }
    }
}
