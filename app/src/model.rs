//! The shared typed model: what an audit entry is, for the server and the browser alike.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::action::{action_category, category_label, ActionPattern};
use crate::format::{plain, thousands};

/// Who performed an action.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum ActorType {
    User,
    ApiKey,
    System,
}

impl ActorType {
    pub const ALL: [ActorType; 3] = [ActorType::User, ActorType::ApiKey, ActorType::System];

    pub fn as_str(self) -> &'static str {
        match self {
            ActorType::User => "user",
            ActorType::ApiKey => "api_key",
            ActorType::System => "system",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|t| t.as_str() == s)
    }
}

/// Who recorded an entry: Trailkeep itself (sign-ins, account and key changes, exports), or
/// the API key that ingested it. Set by the server from the caller's credentials, never read
/// from the event, and covered by the leaf hash. Written `trailkeep` or the key's id.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(into = "String", try_from = "String")]
pub enum Source {
    Trailkeep,
    Key(Uuid),
}

impl Source {
    pub const TRAILKEEP: &'static str = "trailkeep";

    /// `trailkeep`, or an API key id (any UUID spelling; kept lower-case hyphenated).
    pub fn parse(s: &str) -> Option<Self> {
        if s == Self::TRAILKEEP {
            Some(Source::Trailkeep)
        } else {
            Uuid::parse_str(s).ok().map(Source::Key)
        }
    }
}

impl std::fmt::Display for Source {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Source::Trailkeep => f.write_str(Self::TRAILKEEP),
            Source::Key(id) => write!(f, "{}", id.hyphenated()),
        }
    }
}

impl From<Source> for String {
    fn from(s: Source) -> String {
        s.to_string()
    }
}

impl TryFrom<String> for Source {
    type Error = String;
    fn try_from(s: String) -> Result<Self, String> {
        Source::parse(&s).ok_or_else(|| format!("{s:?} is neither trailkeep nor an API key id"))
    }
}

/// Whether the recorded action succeeded.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum Status {
    Success,
    Failure,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Success => "success",
            Status::Failure => "failure",
        }
    }

    /// Success for failure and failure for success: a status chip turned around.
    pub fn other(self) -> Self {
        match self {
            Status::Success => Status::Failure,
            Status::Failure => Status::Success,
        }
    }

    /// The word people read ("Success", "Failure").
    pub fn label(self) -> &'static str {
        match self {
            Status::Success => "Success",
            Status::Failure => "Failure",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "success" => Some(Status::Success),
            "failure" => Some(Status::Failure),
            _ => None,
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct Actor {
    #[serde(rename = "type")]
    pub kind: ActorType,
    pub id: String,
    pub name: Option<String>,
    pub email: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct Resource {
    #[serde(rename = "type")]
    pub kind: String,
    pub id: String,
}

/// One committed entry of the log, in the form the API and the console use.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct AuditEntry {
    pub id: Uuid,
    pub seq: i64,
    pub occurred_at: DateTime<Utc>,
    pub recorded_at: DateTime<Utc>,
    pub action: String,
    pub actor: Actor,
    pub resource: Option<Resource>,
    pub ip: Option<String>,
    pub user_agent: Option<String>,
    pub status: Status,
    /// Free-form JSON object; by convention `changes` = `{field: {before, after}}` and
    /// `request` = request metadata.
    #[cfg_attr(feature = "ssr", schema(value_type = Object))]
    pub details: serde_json::Value,
    /// Who recorded it: `trailkeep`, or the id of the API key that sent it; `null` for entries
    /// recorded before Trailkeep kept provenance (form 1).
    #[cfg_attr(feature = "ssr", schema(value_type = Option<String>, example = "trailkeep"))]
    pub source: Option<Source>,
    /// The name of that API key (as it is named now).
    pub source_name: Option<String>,
    /// The canonical form the leaf hash covers: 1 (before provenance) or 2 (README).
    pub form: i16,
    /// SHA-256 leaf hash, lower-case hex.
    pub leaf_hash: String,
}

impl AuditEntry {
    /// The category of the action: the part before the first `.`.
    pub fn category(&self) -> &str {
        action_category(&self.action)
    }

    /// A one-line summary of `details` for the table.
    pub fn details_summary(&self) -> String {
        let Some(map) = self.details.as_object() else {
            return String::new();
        };
        if let Some(changes) = map.get("changes").and_then(|c| c.as_object()) {
            let fields: Vec<&str> = changes.keys().map(String::as_str).collect();
            return format!("changed {}", fields.join(", "));
        }
        map.iter()
            .filter(|(k, _)| k.as_str() != "request")
            .take(3)
            .map(|(k, v)| match v {
                serde_json::Value::String(s) => format!("{k}: {s}"),
                other => format!("{k}: {other}"),
            })
            .collect::<Vec<_>>()
            .join(" · ")
    }
}

/// `(field, before, after)` of `details.changes`, by field name.
pub fn changes(details: &serde_json::Value) -> Vec<(String, String, String)> {
    let Some(map) = details
        .get("changes")
        .and_then(serde_json::Value::as_object)
    else {
        return Vec::new();
    };
    map.iter()
        .map(|(field, change)| {
            let side = |k: &str| change.get(k).map(plain).unwrap_or_else(|| "—".into());
            (field.clone(), side("before"), side("after"))
        })
        .collect()
}

/// What chips need besides the filter to read well (see `chips::Words`).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChipVocabulary {
    pub categories: Vec<ActionCategory>,
    pub actors: Vec<ActorFacet>,
    /// The names of the API keys the filter names as sources.
    pub keys: Vec<KeyName>,
}

/// A value of the filter that no entry of the log has ever had: "No entry has ever had action
/// nope.nope".
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct NeverRecorded {
    /// `user`, `action`, `resource` or `IP`.
    pub what: String,
    pub value: String,
}

impl NeverRecorded {
    pub fn new(what: &str, value: &str) -> Self {
        NeverRecorded {
            what: what.to_string(),
            value: value.to_string(),
        }
    }

    /// The sentence the empty result shows.
    pub fn sentence(&self) -> String {
        format!("No entry has ever had {} {}.", self.what, self.value)
    }
}

/// Entries over time under a filter, for the chart above the table: consecutive buckets of
/// `bucket_seconds` (aligned to UTC), each counted exactly by status. The buckets together
/// count exactly the entries the filter matches.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Volume {
    pub bucket_seconds: i64,
    pub buckets: Vec<VolumeBucket>,
    /// The window the chart covers: a drag never sets a range wider than it.
    pub from: DateTime<Utc>,
    pub to: DateTime<Utc>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct VolumeBucket {
    pub start: DateTime<Utc>,
    pub success: i64,
    pub failure: i64,
}

impl VolumeBucket {
    pub fn total(&self) -> i64 {
        self.success + self.failure
    }
}

impl Volume {
    /// Buckets `a..=b` (either order) as a time range clipped to the chart's window: what a
    /// drag across them selects (from inclusive, to exclusive).
    pub fn range_of(&self, a: usize, b: usize) -> Option<(DateTime<Utc>, DateTime<Utc>)> {
        let (lo, hi) = (a.min(b), a.max(b));
        let first = self.buckets.get(lo)?;
        let last = self.buckets.get(hi)?;
        let end = last.start + chrono::Duration::seconds(self.bucket_seconds);
        Some((first.start.max(self.from), end.min(self.to)))
    }
}

/// A field the "Top values" panel counts.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum TopField {
    User,
    Action,
    Resource,
    Ip,
}

impl TopField {
    pub const ALL: [TopField; 4] = [
        TopField::User,
        TopField::Action,
        TopField::Resource,
        TopField::Ip,
    ];

    /// The heading of its list.
    pub fn label(self) -> &'static str {
        match self {
            TopField::User => "Users",
            TopField::Action => "Actions",
            TopField::Resource => "Resources",
            TopField::Ip => "IP addresses",
        }
    }

    /// One value's kind, in a button's words ("Leave out IP 10.0.3.7").
    pub fn singular(self) -> &'static str {
        match self {
            TopField::User => "user",
            TopField::Action => "action",
            TopField::Resource => "resource",
            TopField::Ip => "IP",
        }
    }
}

/// One value of a field and how many entries under the filter carry it (exact).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TopValue {
    /// As a filter takes it (`user=`, `action=`, `resource=`, `ip=`).
    pub value: String,
    /// What people read (an actor's name).
    pub label: String,
    pub count: i64,
}

/// The most frequent values of one field under a filter, most first, and how many distinct
/// values the field has there.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TopValues {
    pub field: TopField,
    pub values: Vec<TopValue>,
    pub distinct: i64,
}

/// An API key's current name (a label, changeable: never covered by a hash).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeyName {
    pub id: Uuid,
    pub name: String,
}

/// An entry as the detail panel shows it, with a note when it was recorded long before or
/// after it says it occurred (more than the server's configured threshold apart: a clock
/// that is off, or a batch sent late).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct EntryView {
    pub entry: AuditEntry,
    /// Seconds from `occurred_at` to `recorded_at`, when that is over the threshold (negative:
    /// it claims to have occurred after it was recorded).
    pub recorded_late_seconds: Option<i64>,
    pub late_threshold_seconds: i64,
    /// Sent by a key that imports history (its `import` scope, chosen by an admin when the key
    /// was made): recorded after it occurred is then expected, and said plainly. Never read
    /// from the entry itself, which its sender writes.
    pub imported_history: bool,
}

impl EntryView {
    /// `imported_history`: whether the entry's source key holds the `import` scope.
    pub fn new(entry: AuditEntry, threshold: chrono::Duration, imported_history: bool) -> Self {
        let gap = (entry.recorded_at - entry.occurred_at).num_seconds();
        let threshold = threshold.num_seconds();
        EntryView {
            recorded_late_seconds: (gap.abs() > threshold).then_some(gap),
            late_threshold_seconds: threshold,
            imported_history,
            entry,
        }
    }

    /// The late note is expected history, not a warning: an import key's entry recorded
    /// after (never before) the time it says it occurred.
    pub fn late_as_imported(&self) -> bool {
        self.imported_history && self.recorded_late_seconds.is_some_and(|gap| gap > 0)
    }
}

/// A console user's role.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    Admin,
    Compliance,
    Member,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Admin => "admin",
            Role::Compliance => "compliance",
            Role::Member => "member",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "admin" => Some(Role::Admin),
            "compliance" => Some(Role::Compliance),
            "member" => Some(Role::Member),
            _ => None,
        }
    }

    /// Only admins and compliance officers may read the audit log.
    pub fn can_read_log(self) -> bool {
        matches!(self, Role::Admin | Role::Compliance)
    }
}

/// The signed-in console user, as the pages see it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionUser {
    pub id: Uuid,
    pub email: String,
    pub name: String,
    pub role: Role,
}

/// One page of a filtered listing and the opaque cursor of the next (`None`: that was all).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct EntryPage {
    pub entries: Vec<AuditEntry>,
    pub next_cursor: Option<String>,
    /// The listing's snapshot: it holds no entry with a higher `seq`, so a live stream with
    /// `after_seq=<snapshot_seq>` continues it without a gap (-1 for an empty log).
    #[serde(default)]
    pub snapshot_seq: i64,
    /// Months that retention dropped from the database and that may hold entries of this
    /// filter's period: their entries are not in `entries`, but in the archive named (empty
    /// when every entry the period can hold is online).
    #[serde(default)]
    pub archived: Vec<ArchivedPart>,
}

/// A month whose entries left the database for an archive bundle, and where it is.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct ArchivedPart {
    /// `2027-01` (UTC), the month its entries were recorded in.
    pub month: String,
    /// Its entries: seqs `first_seq..end_seq`.
    pub first_seq: i64,
    pub end_seq: i64,
    /// `directory` or `s3`, and the object (a path under the export directory, or
    /// `s3://bucket/key`), its version, and its SHA-256 (hex).
    pub destination: String,
    pub location: String,
    pub version: Option<String>,
    pub sha256: String,
}

/// What the console's integrity badge checks in the browser: the latest signed checkpoint (a
/// C2SP signed note) and when it was signed, the inclusion proofs (hex, leaf to root) of the
/// entries asked about that it covers, and the verifier key the server holds (which a browser
/// pins the first time it sees it).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct IntegrityEvidence {
    pub note: String,
    pub size: i64,
    pub signed_at: DateTime<Utc>,
    pub server_key: Option<String>,
    pub proofs: Vec<(i64, crate::integrity::Proof)>,
    /// Why the server refuses to sign newer checkpoints (a smaller or different tree than the
    /// latest checkpoint: an integrity alarm), when it does.
    pub refused: Option<crate::integrity::Finding>,
}

/// How many entries match, for the line above the table. `at_least` means counting stopped
/// there because an exact count would be slow ("10,000+").
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct MatchCount {
    pub count: i64,
    pub at_least: bool,
}

impl MatchCount {
    /// `1 entry`, `1,204 entries`, `10,000+ entries`.
    pub fn label(self) -> String {
        let plus = if self.at_least { "+" } else { "" };
        let noun = if self.count == 1 && !self.at_least {
            "entry"
        } else {
            "entries"
        };
        format!("{}{plus} {noun}", thousands(self.count))
    }
}

/// An actor for the user picker, with how many entries it has.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct ActorFacet {
    #[serde(rename = "type")]
    pub actor_type: String,
    pub id: String,
    pub name: Option<String>,
    pub email: Option<String>,
    pub count: i64,
    /// Every entry of it is Trailkeep's record of a refused sign-in with an email no account
    /// has (or their summary): a name typed at the sign-in page, not a person of the platform.
    #[serde(default)]
    pub unknown_sign_in: bool,
}

impl ActorFacet {
    /// The value a `user=` filter takes for this actor: the email when there is one.
    pub fn filter_value(&self) -> String {
        self.email.clone().unwrap_or_else(|| self.id.clone())
    }

    /// The group of the user picker it is listed under.
    pub fn group(&self) -> ActorGroup {
        if self.unknown_sign_in {
            ActorGroup::UnknownSignIns
        } else {
            match self.actor_type.as_str() {
                "user" => ActorGroup::People,
                "api_key" => ActorGroup::ApiKeys,
                _ => ActorGroup::System,
            }
        }
    }
}

/// The groups of the user picker, in the order it lists them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum ActorGroup {
    People,
    ApiKeys,
    System,
    UnknownSignIns,
}

impl ActorGroup {
    pub const ALL: [ActorGroup; 4] = [
        ActorGroup::People,
        ActorGroup::ApiKeys,
        ActorGroup::System,
        ActorGroup::UnknownSignIns,
    ];

    pub fn label(self) -> &'static str {
        match self {
            ActorGroup::People => "People",
            ActorGroup::ApiKeys => "API keys",
            ActorGroup::System => "System",
            ActorGroup::UnknownSignIns => "Unknown sign-in names",
        }
    }
}

/// One page of the user picker: the actors matching what was typed, counted under the other
/// active filters, and how many match in all ("showing 20 of 31").
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ActorFacetPage {
    pub actors: Vec<ActorFacet>,
    pub total: i64,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct ActionCount {
    pub action: String,
    pub count: i64,
}

/// The actions of one category (`config`) and their counts, for the action picker.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct ActionCategory {
    pub category: String,
    pub count: i64,
    pub actions: Vec<ActionCount>,
}

impl ActionCategory {
    /// Groups `(action, count)` pairs, sorted by action, into categories sorted by name.
    pub fn group(counts: Vec<(String, i64)>) -> Vec<ActionCategory> {
        let mut categories: Vec<ActionCategory> = Vec::new();
        for (action, count) in counts {
            let category = action_category(&action).to_string();
            match categories.iter_mut().find(|c| c.category == category) {
                Some(c) => {
                    c.count += count;
                    c.actions.push(ActionCount { action, count });
                }
                None => categories.push(ActionCategory {
                    category,
                    count,
                    actions: vec![ActionCount { action, count }],
                }),
            }
        }
        categories.sort_by(|a, b| a.category.cmp(&b.category));
        categories
    }

    /// The filter values that select the whole category: `config.*` where the category owns
    /// every action under that segment, the actions one by one where it shares the segment
    /// (`user.login` is Authentication, `user.invited` is Users).
    pub fn patterns(&self, all: &[ActionCategory]) -> Vec<ActionPattern> {
        let mut out: Vec<ActionPattern> = Vec::new();
        for a in &self.actions {
            let segment = a.action.split('.').next().unwrap_or(&a.action);
            let shared = all.iter().any(|c| {
                c.category != self.category
                    && c.actions
                        .iter()
                        .any(|o| o.action.split('.').next() == Some(segment))
            });
            let pattern = if shared || !a.action.contains('.') {
                ActionPattern::Exact(a.action.clone())
            } else {
                ActionPattern::Under(segment.to_string())
            };
            if !out.contains(&pattern) {
                out.push(pattern);
            }
        }
        out.sort();
        out
    }

    /// The name users know the category by.
    pub fn label(&self) -> String {
        category_label(&self.category)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn late_records_are_noted_past_the_threshold() {
        let at = |s: i64| DateTime::from_timestamp(s, 0).unwrap();
        let mut e = sample();
        e.occurred_at = at(1_000);
        e.recorded_at = at(1_000 + 301);
        let view = EntryView::new(e.clone(), chrono::Duration::seconds(300), false);
        assert_eq!(view.recorded_late_seconds, Some(301));
        e.recorded_at = at(1_000 + 300);
        assert_eq!(
            EntryView::new(e.clone(), chrono::Duration::seconds(300), false).recorded_late_seconds,
            None
        );
        e.recorded_at = at(1_000 - 7_200);
        assert_eq!(
            EntryView::new(e, chrono::Duration::seconds(300), false).recorded_late_seconds,
            Some(-7_200)
        );
    }

    #[test]
    fn an_import_keys_late_entry_is_history_but_one_dated_ahead_is_not() {
        let at = |s: i64| DateTime::from_timestamp(s, 0).unwrap();
        let mut e = sample();
        e.occurred_at = at(1_000);
        e.recorded_at = at(1_000 + 86_400 * 40);
        let five_min = chrono::Duration::seconds(300);
        assert!(EntryView::new(e.clone(), five_min, true).late_as_imported());
        assert!(!EntryView::new(e.clone(), five_min, false).late_as_imported());
        // Said to occur after it was recorded: a warning whoever sent it.
        e.recorded_at = at(1_000 - 7_200);
        assert!(!EntryView::new(e.clone(), five_min, true).late_as_imported());
        // On time: no note at all.
        e.recorded_at = at(1_000 + 10);
        let on_time = EntryView::new(e, five_min, true);
        assert_eq!(on_time.recorded_late_seconds, None);
        assert!(!on_time.late_as_imported());
    }

    #[test]
    fn changes_become_rows() {
        let d = serde_json::json!({"changes": {"retention_days": {"before": 30, "after": 90},
                                                "mode": {"before": "open", "after": null}}});
        assert_eq!(
            changes(&d),
            vec![
                ("mode".to_string(), "open".to_string(), "—".to_string()),
                (
                    "retention_days".to_string(),
                    "30".to_string(),
                    "90".to_string()
                ),
            ]
        );
        assert!(changes(&serde_json::json!({})).is_empty());
    }

    #[test]
    fn categories_group_and_select_whole() {
        let counts = [
            ("2fa.enrolled", 1),
            ("config.created", 2),
            ("config.updated", 3),
            ("user.invited", 4),
            ("user.login", 5),
            ("user.login_failed", 6),
        ];
        let mut sorted: Vec<(String, i64)> =
            counts.iter().map(|(a, n)| (a.to_string(), *n)).collect();
        sorted.sort();
        let cats = ActionCategory::group(sorted);
        let names: Vec<&str> = cats.iter().map(|c| c.category.as_str()).collect();
        assert_eq!(names, ["auth", "config", "user"]);
        assert_eq!(cats[0].count, 12);
        let show = |c: &ActionCategory| {
            c.patterns(&cats)
                .iter()
                .map(|p| p.to_string())
                .collect::<Vec<_>>()
        };
        assert_eq!(show(&cats[0]), ["user.login", "user.login_failed", "2fa.*"]);
        assert_eq!(show(&cats[1]), ["config.*"]);
        assert_eq!(show(&cats[2]), ["user.invited"]);
        assert_eq!(cats[0].label(), "Authentication");
        assert_eq!(category_label("billing"), "Billing");
        assert_eq!(
            MatchCount {
                count: 1204,
                at_least: false
            }
            .label(),
            "1,204 entries"
        );
        assert_eq!(
            MatchCount {
                count: 10000,
                at_least: true
            }
            .label(),
            "10,000+ entries"
        );
        assert_eq!(
            MatchCount {
                count: 1,
                at_least: false
            }
            .label(),
            "1 entry"
        );
    }

    fn sample() -> AuditEntry {
        AuditEntry {
            id: Uuid::nil(),
            seq: 3,
            occurred_at: DateTime::from_timestamp(0, 0).unwrap(),
            recorded_at: DateTime::from_timestamp(1, 0).unwrap(),
            action: "key.created".into(),
            actor: Actor {
                kind: ActorType::ApiKey,
                id: "k1".into(),
                name: None,
                email: None,
            },
            resource: Some(Resource {
                kind: "key".into(),
                id: "k2".into(),
            }),
            ip: None,
            user_agent: None,
            status: Status::Failure,
            details: serde_json::json!({}),
            source: Some(Source::Trailkeep),
            source_name: None,
            form: 2,
            leaf_hash: "ab".into(),
        }
    }

    #[test]
    fn entry_json_has_api_field_names() {
        let e = sample();
        let v = serde_json::to_value(&e).unwrap();
        assert_eq!(v["actor"]["type"], "api_key");
        assert_eq!(v["resource"]["type"], "key");
        assert_eq!(v["status"], "failure");
        assert_eq!(v["seq"], 3);
        assert_eq!(v["occurred_at"], "1970-01-01T00:00:00Z");
    }

    #[test]
    fn source_is_written_as_trailkeep_or_a_key_id() {
        let key = Uuid::from_u128(0x1234);
        for source in [Source::Trailkeep, Source::Key(key)] {
            assert_eq!(Source::parse(&source.to_string()), Some(source));
            let json = serde_json::to_value(source).unwrap();
            assert_eq!(serde_json::from_value::<Source>(json).unwrap(), source);
        }
        assert_eq!(
            Source::parse("00000000-0000-0000-0000-000000001234"),
            Some(Source::Key(key))
        );
        assert_eq!(Source::parse("Trailkeep"), None);
        assert_eq!(Source::parse(""), None);
    }
}
