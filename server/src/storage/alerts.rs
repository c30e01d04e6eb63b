//! Alerting as stored (migrations/0032): rules with their decision machine's state, the one
//! evaluator row (how far the log was evaluated, and who holds the lease to evaluate), and
//! the alerts it decided. A step of the evaluator commits its progress, the rules' states and
//! its alerts in one transaction, under the evaluator row's lock and only while its lease
//! holds ([`Step`]): what was decided is stored exactly once.

use chrono::{DateTime, Utc};
use serde_json::Value;
use sqlx::{PgConnection, PgExecutor};
use uuid::Uuid;

/// One rule as stored.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct RuleRow {
    pub id: Uuid,
    pub name: String,
    pub severity: String,
    pub filter: String,
    pub condition: String,
    pub batch_secs: Option<i32>,
    pub at_least: Option<i32>,
    pub window_secs: Option<i32>,
    pub group_by: Option<String>,
    pub pending_secs: Option<i32>,
    pub cooldown_secs: Option<i32>,
    pub muted_until: Option<DateTime<Utc>>,
    pub enabled: bool,
    /// The decision machine's state (`domain::alerts::machine::MachineState`).
    pub state: Value,
    /// Grows with every change: a machine of another version starts afresh.
    pub version: i64,
    /// The seq of the entry that recorded the rule's creation: only later entries are its.
    pub watch_seq: i64,
    pub created_by: String,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub deleted_at: Option<DateTime<Utc>>,
}

const RULE_COLUMNS: &str = "id, name, severity, filter, condition, batch_secs, at_least, \
    window_secs, group_by, pending_secs, cooldown_secs, muted_until, enabled, state, version, \
    watch_seq, created_by, created_at, updated_at, deleted_at";

/// The same columns with the state left out (JSON `null`): what the evaluator reads each step
/// for the rules it already holds (a busy rule's state is tens of kilobytes).
fn rule_columns_without_state() -> String {
    RULE_COLUMNS.replace(" state,", " 'null'::jsonb AS state,")
}

/// Stores a new rule.
pub async fn insert_rule(conn: &mut PgConnection, r: &RuleRow) -> Result<(), sqlx::Error> {
    sqlx::query(&format!(
        "INSERT INTO alert_rules ({RULE_COLUMNS}) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, \
                 $18, $19, $20)"
    ))
    .bind(r.id)
    .bind(&r.name)
    .bind(&r.severity)
    .bind(&r.filter)
    .bind(&r.condition)
    .bind(r.batch_secs)
    .bind(r.at_least)
    .bind(r.window_secs)
    .bind(&r.group_by)
    .bind(r.pending_secs)
    .bind(r.cooldown_secs)
    .bind(r.muted_until)
    .bind(r.enabled)
    .bind(&r.state)
    .bind(r.version)
    .bind(r.watch_seq)
    .bind(&r.created_by)
    .bind(r.created_at)
    .bind(r.updated_at)
    .bind(r.deleted_at)
    .execute(conn)
    .await?;
    Ok(())
}

/// The rules that are evaluated: enabled and not deleted.
pub async fn active_rules(db: impl PgExecutor<'_>) -> Result<Vec<RuleRow>, sqlx::Error> {
    sqlx::query_as(&format!(
        "SELECT {RULE_COLUMNS} FROM alert_rules WHERE enabled AND deleted_at IS NULL ORDER BY id"
    ))
    .fetch_all(db)
    .await
}

/// [`active_rules`] with each state left out (JSON `null`).
pub async fn active_rules_without_state(
    db: impl PgExecutor<'_>,
) -> Result<Vec<RuleRow>, sqlx::Error> {
    sqlx::query_as(&format!(
        "SELECT {} FROM alert_rules WHERE enabled AND deleted_at IS NULL ORDER BY id",
        rule_columns_without_state()
    ))
    .fetch_all(db)
    .await
}

/// Where the evaluator stands: the cursor (every entry with a lower seq was evaluated) and
/// the generation (how many steps were committed).
#[derive(Debug, Clone, Copy, PartialEq, Eq, sqlx::FromRow)]
pub struct Position {
    pub cursor: i64,
    pub generation: i64,
}

/// Takes or renews the evaluator's lease for `owner` (free, already `owner`'s, or lapsed),
/// until `lease` from the database's clock: where it stands, or `None` while another holds
/// it.
pub async fn claim(
    db: impl PgExecutor<'_>,
    owner: Uuid,
    lease: std::time::Duration,
) -> Result<Option<Position>, sqlx::Error> {
    sqlx::query_as(
        "UPDATE alert_evaluator SET lease_owner = $1, \
             lease_until = clock_timestamp() + make_interval(secs => $2) \
         WHERE singleton AND (lease_owner IS NULL OR lease_owner = $1 \
                              OR lease_until < clock_timestamp()) \
         RETURNING cursor, generation",
    )
    .bind(owner)
    .bind(lease.as_secs_f64())
    .fetch_optional(db)
    .await
}

/// Lets the lease go (a process that stops), so another takes over at once.
pub async fn release(db: impl PgExecutor<'_>, owner: Uuid) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE alert_evaluator SET lease_owner = NULL, lease_until = NULL \
         WHERE singleton AND lease_owner = $1",
    )
    .bind(owner)
    .execute(db)
    .await?;
    Ok(())
}

/// Waits until every append in flight has committed or rolled back (the chain head's lock),
/// and returns the instant the next append will be recorded at or after: every entry
/// recorded before it is committed.
pub async fn settled_now(conn: &mut PgConnection) -> Result<DateTime<Utc>, sqlx::Error> {
    let mut tx = sqlx::Connection::begin(&mut *conn).await?;
    let now: DateTime<Utc> = sqlx::query_scalar("SELECT now FROM chain_head_for_append()")
        .fetch_one(&mut *tx)
        .await?;
    tx.rollback().await?;
    Ok(now)
}

/// An alert to store.
#[derive(Debug, Clone)]
pub struct NewAlert {
    pub id: Uuid,
    pub rule_id: Uuid,
    pub kind: &'static str,
    pub group_key: String,
    pub at: DateTime<Utc>,
    pub since: DateTime<Utc>,
    pub count: i64,
    pub seqs: Vec<i64>,
    /// Its last entry (migrations/0034).
    pub last_seq: Option<i64>,
    pub overflow: i64,
    pub muted: bool,
    /// The rule's filter and grouping it was decided on.
    pub filter: String,
    pub group_by: Option<String>,
}

/// One stored alert.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct AlertRow {
    pub id: Uuid,
    pub rule_id: Uuid,
    pub kind: String,
    pub group_key: String,
    pub at: DateTime<Utc>,
    pub since: DateTime<Utc>,
    pub count: i64,
    pub seqs: Vec<i64>,
    pub last_seq: Option<i64>,
    pub overflow: i64,
    pub muted: bool,
    pub decided_through: i64,
}

/// What one step of the evaluator commits.
pub struct Step<'a> {
    pub owner: Uuid,
    /// Where the step started (its memory was built there), and the cursor it reached.
    pub from: Position,
    pub to: i64,
    /// Each rule's new state, for the version it was computed with.
    pub states: &'a [(Uuid, i64, String)],
    pub alerts: &'a [NewAlert],
}

/// Locks the evaluator row for `step`, in the caller's transaction: `false` when the lease is
/// no longer `step.owner`'s or another step was committed since the step's memory was built
/// (another process evaluated, if only the clock): nothing may be written then. A lease that
/// lapsed with no one taking it over still holds: a takeover changes the owner.
pub async fn lock_for(conn: &mut PgConnection, step: &Step<'_>) -> Result<bool, sqlx::Error> {
    let now: Option<Position> = sqlx::query_as(
        "SELECT cursor, generation FROM alert_evaluator \
         WHERE singleton AND lease_owner = $1 FOR UPDATE",
    )
    .bind(step.owner)
    .fetch_optional(&mut *conn)
    .await?;
    Ok(now == Some(step.from))
}

/// Writes `step` (after [`lock_for`] said yes, in the same transaction): the alerts, each
/// rule's state (unless the rule changed meanwhile: its new version starts afresh) and the
/// cursor.
pub async fn write_step(conn: &mut PgConnection, step: &Step<'_>) -> Result<(), sqlx::Error> {
    for a in step.alerts {
        sqlx::query(
            "INSERT INTO alerts (id, rule_id, kind, group_key, at, since, count, seqs, last_seq, \
                                 overflow, muted, filter, group_by, decided_through) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)",
        )
        .bind(a.id)
        .bind(a.rule_id)
        .bind(a.kind)
        .bind(&a.group_key)
        .bind(a.at)
        .bind(a.since)
        .bind(a.count)
        .bind(&a.seqs)
        .bind(a.last_seq)
        .bind(a.overflow)
        .bind(a.muted)
        .bind(&a.filter)
        .bind(&a.group_by)
        .bind(step.to)
        .execute(&mut *conn)
        .await?;
    }
    // Every rule's state in one statement (a step with a hundred rules is one round trip).
    if !step.states.is_empty() {
        let ids: Vec<Uuid> = step.states.iter().map(|(id, _, _)| *id).collect();
        let versions: Vec<i64> = step.states.iter().map(|(_, v, _)| *v).collect();
        let states: Vec<&str> = step.states.iter().map(|(_, _, s)| s.as_str()).collect();
        sqlx::query(
            "UPDATE alert_rules r SET state = u.state::jsonb \
             FROM UNNEST($1::uuid[], $2::bigint[], $3::text[]) AS u(id, version, state) \
             WHERE r.id = u.id AND r.version = u.version",
        )
        .bind(&ids)
        .bind(&versions)
        .bind(&states)
        .execute(&mut *conn)
        .await?;
    }
    sqlx::query(
        "UPDATE alert_evaluator SET cursor = $1, generation = generation + 1 WHERE singleton",
    )
    .bind(step.to)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// The alerts of `rule`, oldest first.
pub async fn alerts_of(db: impl PgExecutor<'_>, rule: Uuid) -> Result<Vec<AlertRow>, sqlx::Error> {
    sqlx::query_as(
        "SELECT id, rule_id, kind, group_key, at, since, count, seqs, last_seq, overflow, \
                muted, decided_through \
         FROM alerts WHERE rule_id = $1 ORDER BY at, group_key, kind",
    )
    .bind(rule)
    .fetch_all(db)
    .await
}

/// The evaluator's cursor: every entry with a lower seq was evaluated.
pub async fn cursor(db: impl PgExecutor<'_>) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar("SELECT cursor FROM alert_evaluator WHERE singleton")
        .fetch_one(db)
        .await
}

/// One alert.
pub async fn alert(db: impl PgExecutor<'_>, id: Uuid) -> Result<Option<AlertRow>, sqlx::Error> {
    sqlx::query_as(
        "SELECT id, rule_id, kind, group_key, at, since, count, seqs, last_seq, overflow, \
                muted, decided_through \
         FROM alerts WHERE id = $1",
    )
    .bind(id)
    .fetch_optional(db)
    .await
}

/// One rule (deleted ones too: their alerts name them).
pub async fn rule(db: impl PgExecutor<'_>, id: Uuid) -> Result<Option<RuleRow>, sqlx::Error> {
    sqlx::query_as(&format!(
        "SELECT {RULE_COLUMNS} FROM alert_rules WHERE id = $1"
    ))
    .bind(id)
    .fetch_optional(db)
    .await
}

/// Stores `r` over the rule of its id (a change, a mute, a deletion).
pub async fn update_rule(conn: &mut PgConnection, r: &RuleRow) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE alert_rules SET name = $2, severity = $3, filter = $4, condition = $5, \
             batch_secs = $6, at_least = $7, window_secs = $8, group_by = $9, \
             pending_secs = $10, cooldown_secs = $11, muted_until = $12, enabled = $13, \
             state = $14, version = $15, watch_seq = $16, updated_at = $17, deleted_at = $18 \
         WHERE id = $1",
    )
    .bind(r.id)
    .bind(&r.name)
    .bind(&r.severity)
    .bind(&r.filter)
    .bind(&r.condition)
    .bind(r.batch_secs)
    .bind(r.at_least)
    .bind(r.window_secs)
    .bind(&r.group_by)
    .bind(r.pending_secs)
    .bind(r.cooldown_secs)
    .bind(r.muted_until)
    .bind(r.enabled)
    .bind(&r.state)
    .bind(r.version)
    .bind(r.watch_seq)
    .bind(r.updated_at)
    .bind(r.deleted_at)
    .execute(conn)
    .await?;
    Ok(())
}

/// One rule locked for a change (not deleted).
pub async fn rule_for_update(
    conn: &mut PgConnection,
    id: Uuid,
) -> Result<Option<RuleRow>, sqlx::Error> {
    sqlx::query_as(&format!(
        "SELECT {RULE_COLUMNS} FROM alert_rules WHERE id = $1 AND deleted_at IS NULL FOR UPDATE"
    ))
    .bind(id)
    .fetch_optional(conn)
    .await
}

/// The rules not deleted, by name.
pub async fn rules(db: impl PgExecutor<'_>) -> Result<Vec<RuleRow>, sqlx::Error> {
    sqlx::query_as(&format!(
        "SELECT {RULE_COLUMNS} FROM alert_rules WHERE deleted_at IS NULL ORDER BY lower(name), id"
    ))
    .fetch_all(db)
    .await
}

/// Which alerts a list shows.
#[derive(Debug, Clone, Default)]
pub struct AlertFilter {
    pub rule: Option<Uuid>,
    /// Those that list this entry among their first ones, or whose span (first to last
    /// entry) holds it: the caller keeps those whose rule and group the entry matches.
    pub seq: Option<i64>,
    /// Only those listed after this one (newest first): the previous page's last.
    pub after: Option<Uuid>,
}

/// An alert with its rule's name and severity.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct ListedAlert {
    #[sqlx(flatten)]
    pub alert: AlertRow,
    pub rule_name: String,
    pub severity: String,
    pub filter: String,
    pub group_by: Option<String>,
    pub window_secs: Option<i32>,
}

/// Alerts matching `f`, newest first, at most `limit`.
pub async fn list_alerts(
    db: impl PgExecutor<'_>,
    f: &AlertFilter,
    limit: i64,
) -> Result<Vec<ListedAlert>, sqlx::Error> {
    sqlx::query_as(
        "SELECT a.id, a.rule_id, a.kind, a.group_key, a.at, a.since, a.count, a.seqs, \
                a.last_seq, a.overflow, a.muted, a.decided_through, r.name AS rule_name, r.severity, \
                COALESCE(a.filter, r.filter) AS filter, \
                CASE WHEN a.filter IS NULL THEN r.group_by ELSE a.group_by END AS group_by, \
                r.window_secs \
         FROM alerts a JOIN alert_rules r ON r.id = a.rule_id \
         WHERE ($1::uuid IS NULL OR a.rule_id = $1) \
           AND ($2::bigint IS NULL OR a.seqs @> ARRAY[$2::bigint] \
                OR (a.last_seq IS NOT NULL \
                    AND int8range(a.seqs[1], a.last_seq, '[]') @> $2::bigint)) \
           AND ($3::uuid IS NULL OR (a.at, a.id) < (SELECT at, id FROM alerts WHERE id = $3)) \
         ORDER BY a.at DESC, a.id DESC LIMIT $4",
    )
    .bind(f.rule)
    .bind(f.seq)
    .bind(f.after)
    .bind(limit)
    .fetch_all(db)
    .await
}
