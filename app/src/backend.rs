//! What the console's server functions need from the server, without depending on it:
//! the server crate implements [`ConsoleBackend`] and provides it as Leptos context.

use std::{future::Future, pin::Pin, sync::Arc};

use uuid::Uuid;

use crate::account::SessionView;
use crate::alerts::{
    AlertRuleSpec, AlertRuleView, AlertView, ChannelSpec, ChannelView, CreatedChannel,
    DeliveryView, RulePreview,
};
use crate::error::ConsoleError;
use crate::exports::{
    ArchiveMonth, ExportRun, ExportSchedule, RetentionPolicy, RetentionSpec, ScheduleSpec,
};
use crate::filter::{Filter, SavedSearch};
use crate::invitations::{Invitation, InvitationFor, NewInvitation};
use crate::keys::{ApiKey, NewSecret, Scope};
use crate::model::Role;
use crate::model::{
    ActionCategory, ActorFacet, ActorFacetPage, AuditEntry, EntryPage, IntegrityEvidence, KeyName,
    MatchCount, NeverRecorded, TopValues, Volume,
};
use crate::settings::Settings;
use crate::two_factor::{Enrolment, RecoveryCodes, TwoFactorStatus};
use crate::users::UserView;

pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// A refused filter names its parameter; a store that cannot answer is `Unavailable`.
pub type BackendResult<T> = Result<T, ConsoleError>;

pub trait ConsoleBackend: Send + Sync + 'static {
    /// A page of entries matching `filter` after `cursor` (as issued by the previous page).
    fn page(
        &self,
        filter: Filter,
        cursor: Option<String>,
        limit: i64,
    ) -> BoxFuture<'_, BackendResult<EntryPage>>;
    /// How many entries match with `seq <= through_seq` (all when `None`), counted up to `cap`
    /// (exactly when `None`).
    fn count(
        &self,
        filter: Filter,
        cap: Option<i64>,
        through_seq: Option<i64>,
    ) -> BoxFuture<'_, BackendResult<MatchCount>>;
    fn entry(&self, id: Uuid) -> BoxFuture<'_, BackendResult<Option<AuditEntry>>>;
    /// One page of the user picker: actors matching `q`, counted under `others` (the filter on
    /// screen without its users), `limit` from `offset`, and how many match in all.
    fn user_facets(
        &self,
        q: String,
        others: Filter,
        limit: i64,
        offset: i64,
    ) -> BoxFuture<'_, BackendResult<ActorFacetPage>>;
    /// Every action recorded, by category, counted under `others` (0 where none matches).
    fn action_facets(&self, others: Filter) -> BoxFuture<'_, BackendResult<Vec<ActionCategory>>>;
    /// The actors chosen with these `user=` values (one row per value that names one).
    fn actors(&self, values: Vec<String>) -> BoxFuture<'_, BackendResult<Vec<ActorFacet>>>;
    /// The `limit` most frequent values of each [`TopField`] under `filter`, counted exactly.
    fn top_values(
        &self,
        filter: Filter,
        limit: i64,
    ) -> BoxFuture<'_, BackendResult<Vec<TopValues>>>;
    /// The values of `filter` that no entry of the log has ever had.
    fn never_recorded(&self, filter: Filter) -> BoxFuture<'_, BackendResult<Vec<NeverRecorded>>>;
    /// The saved searches `viewer` may open (their own first, then the shared ones).
    fn saved_searches(&self, viewer: Uuid) -> BoxFuture<'_, BackendResult<Vec<SavedSearch>>>;
    /// One saved search `viewer` may open.
    fn saved_search(&self, viewer: Uuid, id: Uuid) -> BoxFuture<'_, BackendResult<SavedSearch>>;
    /// Saves `filter` as `name` (checked) for `owner`.
    fn save_search(
        &self,
        owner: Uuid,
        name: String,
        filter: Filter,
        shared: bool,
    ) -> BoxFuture<'_, BackendResult<SavedSearch>>;
    /// Deletes `owner`'s saved search `id`.
    fn delete_search(&self, owner: Uuid, id: Uuid) -> BoxFuture<'_, BackendResult<()>>;
    /// Entries over time under `filter` (`None` when it matches nothing and has no window).
    fn volume(&self, filter: Filter) -> BoxFuture<'_, BackendResult<Option<Volume>>>;
    /// Whether an entry after `after_seq` matches `filter` now.
    fn any_after(&self, filter: Filter, after_seq: i64) -> BoxFuture<'_, BackendResult<bool>>;
    /// The current names of these API keys (those that exist).
    fn key_names(&self, ids: Vec<Uuid>) -> BoxFuture<'_, BackendResult<Vec<KeyName>>>;
    /// Whether API key `id` imports history (holds the `import` scope).
    fn imports_history(&self, id: Uuid) -> BoxFuture<'_, BackendResult<bool>>;
    /// The latest signed checkpoint, the inclusion proofs of those `seqs` it covers, and the
    /// log's verifier key; `None` before the first checkpoint is signed.
    fn integrity(&self, seqs: Vec<i64>) -> BoxFuture<'_, BackendResult<Option<IntegrityEvidence>>>;
    /// When the detail panel marks an entry recorded long after it occurred.
    fn recorded_late_after(&self) -> chrono::Duration;
}

pub type SharedBackend = Arc<dyn ConsoleBackend>;

/// Who asks for a change, and from where: the entry that records it names them. The address
/// honours the server's proxy setting; the guard in front of every server function sets it.
#[derive(Clone, Debug)]
pub struct Caller {
    pub user: crate::model::SessionUser,
    pub ip: Option<std::net::IpAddr>,
    pub user_agent: Option<String>,
}

/// The request's session, which the server's guard puts beside the `SessionUser`: its token's
/// SHA-256 (what "every other session" excludes), its id, and whether its password was proven
/// in the last [`crate::error::SUDO_MINUTES`] (what sudo mode asks; by the database's clock).
#[derive(Clone, Debug)]
pub struct CurrentSession {
    pub hash: Vec<u8>,
    pub id: Uuid,
    pub recently_proven: bool,
}

/// The client facts the server's guard puts on every request, for [`Caller`].
#[derive(Clone, Debug, Default)]
pub struct ClientFacts {
    pub ip: Option<std::net::IpAddr>,
    pub user_agent: Option<String>,
}

/// What the admin pages and the Account page read and change. Every change commits in one
/// transaction with the entry that records it (source `trailkeep`); the caller's role is
/// checked before (the Account page's calls act on the caller's own account only).
pub trait AdminBackend: Send + Sync + 'static {
    /// Every API key, newest first (revoked and expired ones too: their entries name them).
    fn keys(&self) -> BoxFuture<'_, BackendResult<Vec<ApiKey>>>;
    /// A new key; its secret is in the answer and nowhere else.
    fn create_key(
        &self,
        by: Caller,
        name: String,
        scopes: Vec<Scope>,
        expires_in_days: Option<u32>,
    ) -> BoxFuture<'_, BackendResult<NewSecret>>;
    /// A new secret for key `id`; the previous one is accepted for `grace_hours` more.
    fn rotate_key(
        &self,
        by: Caller,
        id: Uuid,
        grace_hours: u32,
    ) -> BoxFuture<'_, BackendResult<NewSecret>>;
    /// Refuses key `id` from now on, its live sockets included.
    fn revoke_key(&self, by: Caller, id: Uuid) -> BoxFuture<'_, BackendResult<ApiKey>>;
    /// Every user, by name.
    fn users(&self) -> BoxFuture<'_, BackendResult<Vec<UserView>>>;
    /// Gives user `id` `role` (never leaving no active admin); their sessions end.
    fn change_role(
        &self,
        by: Caller,
        id: Uuid,
        role: Role,
    ) -> BoxFuture<'_, BackendResult<UserView>>;
    /// Deactivates (`active: false`) or reactivates user `id`; deactivation ends their
    /// sessions and live sockets and never leaves no active admin.
    fn set_active(
        &self,
        by: Caller,
        id: Uuid,
        active: bool,
    ) -> BoxFuture<'_, BackendResult<UserView>>;
    /// Invites `email` as `role`; the token is in the answer and nowhere else.
    fn invite(
        &self,
        by: Caller,
        email: String,
        name: String,
        role: Role,
    ) -> BoxFuture<'_, BackendResult<NewInvitation>>;
    /// The invitations still usable, newest first.
    fn pending_invitations(&self) -> BoxFuture<'_, BackendResult<Vec<Invitation>>>;
    /// What the invitee's page shows, for a usable token (anyone may ask: it holds the token).
    fn invitation_for(&self, token: String) -> BoxFuture<'_, BackendResult<InvitationFor>>;
    /// Accepts an invitation: the account exists when this answers.
    fn accept_invitation(
        &self,
        token: String,
        password: String,
        from: ClientFacts,
    ) -> BoxFuture<'_, BackendResult<()>>;
    /// The caller's own second factor.
    fn two_factor(&self, by: Caller) -> BoxFuture<'_, BackendResult<TwoFactorStatus>>;
    /// Starts the caller's enrolment (a new seed, shown once).
    fn begin_two_factor(&self, by: Caller) -> BoxFuture<'_, BackendResult<Enrolment>>;
    /// Confirms the caller's enrolment with a current code; the recovery codes, shown once.
    fn confirm_two_factor(
        &self,
        by: Caller,
        code: String,
    ) -> BoxFuture<'_, BackendResult<RecoveryCodes>>;
    /// Turns the caller's second factor off, proven by `code`.
    fn disable_two_factor(&self, by: Caller, code: String) -> BoxFuture<'_, BackendResult<()>>;
    /// New recovery codes for the caller, proven by `code`.
    fn new_recovery_codes(
        &self,
        by: Caller,
        code: String,
    ) -> BoxFuture<'_, BackendResult<RecoveryCodes>>;
    /// Changes the caller's password, proven by the current one; every other session of
    /// theirs ends (`keep`: the session of this request). Returns how many ended.
    fn change_password(
        &self,
        by: Caller,
        keep: CurrentSession,
        current: String,
        new: String,
    ) -> BoxFuture<'_, BackendResult<u64>>;
    /// An admin turns user `id`'s second factor off; their sessions end.
    fn reset_two_factor(&self, by: Caller, id: Uuid) -> BoxFuture<'_, BackendResult<UserView>>;
    /// Proves the caller's password again in session `current` (sudo mode), under the
    /// sign-in lockout.
    fn confirm_password(
        &self,
        by: Caller,
        current: CurrentSession,
        password: String,
    ) -> BoxFuture<'_, BackendResult<()>>;
    /// The caller's live sessions, `current` marked.
    fn sessions(
        &self,
        by: Caller,
        current: CurrentSession,
    ) -> BoxFuture<'_, BackendResult<Vec<SessionView>>>;
    /// Ends the caller's session `id` (not `current`): recorded as `session.revoked`.
    fn end_session(
        &self,
        by: Caller,
        current: CurrentSession,
        id: Uuid,
    ) -> BoxFuture<'_, BackendResult<()>>;
    /// The settings in force.
    fn settings(&self) -> BoxFuture<'_, BackendResult<Settings>>;
    /// Saves `settings` (checked), recorded as `settings.updated`.
    fn update_settings(
        &self,
        by: Caller,
        settings: Settings,
    ) -> BoxFuture<'_, BackendResult<Settings>>;
    /// The export schedules, by name.
    fn export_schedules(&self) -> BoxFuture<'_, BackendResult<Vec<ExportSchedule>>>;
    /// Creates a schedule (`id: None`) or changes one, recorded with before and after.
    fn save_schedule(
        &self,
        by: Caller,
        id: Option<Uuid>,
        spec: ScheduleSpec,
    ) -> BoxFuture<'_, BackendResult<ExportSchedule>>;
    /// Deletes a schedule: no more runs; its history stays.
    fn delete_schedule(&self, by: Caller, id: Uuid) -> BoxFuture<'_, BackendResult<()>>;
    /// Asks for a run of the schedule's newest complete period, now.
    fn run_schedule_now(&self, by: Caller, id: Uuid) -> BoxFuture<'_, BackendResult<ExportRun>>;
    /// The runs, newest first: `limit` of them older than run `before`.
    fn export_runs(
        &self,
        before: Option<Uuid>,
        limit: i64,
    ) -> BoxFuture<'_, BackendResult<Vec<ExportRun>>>;
    /// Each month of the log, newest first, with the archive bundles that hold its entries.
    fn archive_months(&self) -> BoxFuture<'_, BackendResult<Vec<ArchiveMonth>>>;
    /// The retention policy and the months it dropped.
    fn retention_policy(&self) -> BoxFuture<'_, BackendResult<RetentionPolicy>>;
    /// Sets the retention policy (checked), recorded as `retention.policy_updated`.
    fn set_retention_policy(
        &self,
        by: Caller,
        spec: RetentionSpec,
    ) -> BoxFuture<'_, BackendResult<RetentionPolicy>>;
    /// The alert rules, by name, with their state.
    fn alert_rules(&self) -> BoxFuture<'_, BackendResult<Vec<AlertRuleView>>>;
    /// Creates a rule (`id: None`) or changes one, recorded.
    fn save_alert_rule(
        &self,
        by: Caller,
        id: Option<Uuid>,
        spec: AlertRuleSpec,
    ) -> BoxFuture<'_, BackendResult<AlertRuleView>>;
    /// Deletes a rule (its alerts stay), recorded.
    fn delete_alert_rule(&self, by: Caller, id: Uuid) -> BoxFuture<'_, BackendResult<()>>;
    /// Mutes a rule until `until` (none: unmutes), recorded.
    fn mute_alert_rule(
        &self,
        by: Caller,
        id: Uuid,
        until: Option<chrono::DateTime<chrono::Utc>>,
    ) -> BoxFuture<'_, BackendResult<AlertRuleView>>;
    /// What `spec` would have decided over the last 7 days.
    fn preview_alert_rule(&self, spec: AlertRuleSpec) -> BoxFuture<'_, BackendResult<RulePreview>>;
    /// The notification channels, by name.
    fn channels(&self) -> BoxFuture<'_, BackendResult<Vec<ChannelView>>>;
    /// Creates a channel (`id: None`; a webhook's secret is in the answer, this once) or
    /// changes one, recorded.
    fn save_channel(
        &self,
        by: Caller,
        id: Option<Uuid>,
        spec: ChannelSpec,
    ) -> BoxFuture<'_, BackendResult<CreatedChannel>>;
    /// Deletes a channel, recorded.
    fn delete_channel(&self, by: Caller, id: Uuid) -> BoxFuture<'_, BackendResult<()>>;
    /// Queues a test notification to a channel: the delivery's id.
    fn test_channel(&self, by: Caller, id: Uuid) -> BoxFuture<'_, BackendResult<Uuid>>;
    /// A page of the delivery log (newest first, after delivery `after`; one alert's when
    /// `alert`), and the next page's start.
    fn deliveries(
        &self,
        status: Option<String>,
        alert: Option<Uuid>,
        after: Option<Uuid>,
    ) -> BoxFuture<'_, BackendResult<(Vec<DeliveryView>, Option<Uuid>)>>;
    /// Puts a dead delivery back in the queue.
    fn redeliver(&self, by: Caller, id: Uuid) -> BoxFuture<'_, BackendResult<()>>;
    /// Alerts, newest first: a rule's, or those listing entry `seq`.
    fn alerts(
        &self,
        rule: Option<Uuid>,
        seq: Option<i64>,
    ) -> BoxFuture<'_, BackendResult<Vec<AlertView>>>;
}

pub type SharedAdmin = Arc<dyn AdminBackend>;
