//! Console users as the Users page shows and changes them: one view of a user, and why a change
//! can be refused. The server decides (the last active admin is protected in the changing
//! transaction, `service::users`); the page uses the same words.

use std::fmt;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::model::Role;

/// One user as admins and compliance officers see them: never a password hash.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserView {
    pub id: Uuid,
    pub email: String,
    pub name: String,
    pub role: Role,
    pub created_at: DateTime<Utc>,
    /// When they last signed in (none: never, or before Trailkeep noted it).
    pub last_sign_in_at: Option<DateTime<Utc>>,
    pub deactivated_at: Option<DateTime<Utc>>,
    /// Whether sign-in asks them for a second factor.
    pub two_factor: bool,
}

impl UserView {
    pub fn active(&self) -> bool {
        self.deactivated_at.is_none()
    }

    pub fn status_word(&self) -> &'static str {
        if self.active() {
            "Active"
        } else {
            "Deactivated"
        }
    }
}

/// Why a change to a user was refused, in words that say what to do.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum UserRefusal {
    NotFound,
    /// The change would leave no active admin.
    LastAdmin,
    /// Already as asked (the role, deactivated, active).
    Unchanged,
}

impl fmt::Display for UserRefusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            UserRefusal::NotFound => f.write_str("There is no such user: reload the page."),
            UserRefusal::LastAdmin => f.write_str(
                "This is the last active admin: make someone else admin first, so that someone can still manage users and keys.",
            ),
            UserRefusal::Unchanged => {
                f.write_str("Nothing to change: the user is already so. Reload the page.")
            }
        }
    }
}

/// The Users page's view, in its URL: a text to find, a role, a status and a sort.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct UserQuery {
    pub q: String,
    pub role: Option<Role>,
    /// `Some(true)`: active only; `Some(false)`: deactivated only.
    pub active: Option<bool>,
    pub sort: UserSort,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum UserSort {
    #[default]
    Name,
    Email,
    Role,
    /// Most recent first.
    LastSignIn,
}

impl UserSort {
    pub const ALL: [UserSort; 4] = [
        UserSort::Name,
        UserSort::Email,
        UserSort::Role,
        UserSort::LastSignIn,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            UserSort::Name => "name",
            UserSort::Email => "email",
            UserSort::Role => "role",
            UserSort::LastSignIn => "last_sign_in",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|v| v.as_str() == s)
    }
}

impl UserQuery {
    /// From the URL's parameters; what it cannot read is left out (the page shows all).
    pub fn from_params(get: impl Fn(&str) -> Option<String>) -> Self {
        UserQuery {
            q: get("q").unwrap_or_default(),
            role: get("role").and_then(|r| Role::parse(&r)),
            active: match get("status").as_deref() {
                Some("active") => Some(true),
                Some("deactivated") => Some(false),
                _ => None,
            },
            sort: get("sort")
                .and_then(|s| UserSort::parse(&s))
                .unwrap_or_default(),
        }
    }

    /// The URL's query string (empty parts left out), `from_params`' inverse.
    pub fn to_query_string(&self) -> String {
        let mut pairs: Vec<(&str, String)> = Vec::new();
        if !self.q.trim().is_empty() {
            pairs.push(("q", self.q.clone()));
        }
        if let Some(role) = self.role {
            pairs.push(("role", role.as_str().into()));
        }
        if let Some(active) = self.active {
            pairs.push((
                "status",
                if active { "active" } else { "deactivated" }.into(),
            ));
        }
        if self.sort != UserSort::default() {
            pairs.push(("sort", self.sort.as_str().into()));
        }
        pairs
            .iter()
            .map(|(k, v)| format!("{k}={}", crate::filter::percent_encode(v)))
            .collect::<Vec<_>>()
            .join("&")
    }

    /// The users it shows, in its order.
    pub fn apply(&self, users: &[UserView]) -> Vec<UserView> {
        let q = self.q.trim().to_lowercase();
        let mut shown: Vec<UserView> = users
            .iter()
            .filter(|u| {
                q.is_empty()
                    || u.name.to_lowercase().contains(&q)
                    || u.email.to_lowercase().contains(&q)
            })
            .filter(|u| self.role.is_none_or(|r| u.role == r))
            .filter(|u| self.active.is_none_or(|a| u.active() == a))
            .cloned()
            .collect();
        let by_name = |a: &UserView, b: &UserView| {
            a.name
                .to_lowercase()
                .cmp(&b.name.to_lowercase())
                .then_with(|| a.email.to_lowercase().cmp(&b.email.to_lowercase()))
        };
        match self.sort {
            UserSort::Name => shown.sort_by(by_name),
            UserSort::Email => shown.sort_by_key(|u| u.email.to_lowercase()),
            UserSort::Role => shown.sort_by(|a, b| {
                a.role
                    .as_str()
                    .cmp(b.role.as_str())
                    .then_with(|| by_name(a, b))
            }),
            UserSort::LastSignIn => shown.sort_by(|a, b| {
                b.last_sign_in_at
                    .cmp(&a.last_sign_in_at)
                    .then_with(|| by_name(a, b))
            }),
        }
        shown
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn user(name: &str, email: &str, role: Role, signed_in: Option<i64>, active: bool) -> UserView {
        UserView {
            id: Uuid::new_v4(),
            email: email.into(),
            name: name.into(),
            role,
            created_at: DateTime::UNIX_EPOCH,
            last_sign_in_at: signed_in.and_then(|s| DateTime::from_timestamp(s, 0)),
            deactivated_at: (!active).then_some(DateTime::UNIX_EPOCH),
            two_factor: false,
        }
    }

    #[test]
    fn the_view_round_trips_through_its_url_and_filters_and_sorts() {
        let q = UserQuery {
            q: "grace h&".into(),
            role: Some(Role::Compliance),
            active: Some(false),
            sort: UserSort::LastSignIn,
        };
        let s = q.to_query_string();
        let pairs: Vec<(String, String)> = s
            .split('&')
            .map(|p| {
                let (k, v) = p.split_once('=').unwrap();
                (k.to_string(), crate::filter::percent_decode(v).unwrap())
            })
            .collect();
        let back = UserQuery::from_params(|k| {
            pairs
                .iter()
                .find(|(key, _)| key == k)
                .map(|(_, v)| v.clone())
        });
        assert_eq!(back, q);
        assert_eq!(UserQuery::default().to_query_string(), "");
        // What the URL says wrongly is left out: the page shows everyone.
        let odd = UserQuery::from_params(|k| Some(format!("nonsense-{k}")));
        assert_eq!(odd.role, None);
        assert_eq!(odd.active, None);
        assert_eq!(odd.sort, UserSort::Name);

        let all = [
            user("bob", "b@x", Role::Admin, Some(10), true),
            user("Ada", "z@x", Role::Member, Some(30), true),
            user("cy", "c@x", Role::Compliance, None, false),
        ];
        let names = |q: &UserQuery| {
            q.apply(&all)
                .into_iter()
                .map(|u| u.name)
                .collect::<Vec<_>>()
        };
        assert_eq!(names(&UserQuery::default()), ["Ada", "bob", "cy"]);
        let by = |sort| UserQuery {
            sort,
            ..Default::default()
        };
        assert_eq!(names(&by(UserSort::Email)), ["bob", "cy", "Ada"]);
        assert_eq!(names(&by(UserSort::Role)), ["bob", "cy", "Ada"]);
        assert_eq!(names(&by(UserSort::LastSignIn)), ["Ada", "bob", "cy"]);
        let find = |q: &str| UserQuery {
            q: q.into(),
            ..Default::default()
        };
        assert_eq!(names(&find("Z@")), ["Ada"]);
        assert_eq!(
            names(&UserQuery {
                active: Some(false),
                ..Default::default()
            }),
            ["cy"]
        );
        assert_eq!(
            names(&UserQuery {
                role: Some(Role::Admin),
                ..Default::default()
            }),
            ["bob"]
        );
    }
}
