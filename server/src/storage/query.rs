//! The one place a `Filter` becomes SQL. Values are always bound parameters; the SQL text
//! depends only on which filter parts are present.

use app::filter::{
    ActionPattern, Filter, FilterError, Order, ResourcePattern, TimeBound, TimeWindow,
};
use app::model::{ActionCategory, ActorFacet, AuditEntry, EntryPage, MatchCount};
use chrono::{DateTime, NaiveDateTime, Utc};
use sqlx::{PgPool, Postgres, QueryBuilder};
use uuid::Uuid;

use super::entries::{EntryRow, ROW_COLUMNS};
use crate::domain::cursor::Cursor;

/// The expression the free-text index is built on (migrations/0002_query.sql).
pub(super) const SEARCH_TEXT: &str =
    "audit_search_text(actor_id, actor_name, actor_email, action, \
    resource_type, resource_id, ip, user_agent, details)";

#[derive(Debug)]
pub enum QueryError {
    /// The request is wrong (400): names the parameter.
    Filter(FilterError),
    Db(sqlx::Error),
}

impl From<sqlx::Error> for QueryError {
    fn from(e: sqlx::Error) -> Self {
        QueryError::Db(e)
    }
}

impl From<FilterError> for QueryError {
    fn from(e: FilterError) -> Self {
        QueryError::Filter(e)
    }
}

/// The time window as instants: `from` inclusive, `to` exclusive.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Bounds {
    pub from: Option<DateTime<Utc>>,
    pub to: Option<DateTime<Utc>>,
}

/// Turns the window into instants. Dates are read in the filter's time zone, which PostgreSQL
/// resolves from its own time zone database (an unknown zone is a 400).
pub async fn resolve_bounds(
    pool: &PgPool,
    f: &Filter,
    now: DateTime<Utc>,
) -> Result<Bounds, QueryError> {
    let tz = f.tz.as_deref().unwrap_or("UTC");
    if f.tz.is_some() {
        // pg_timezone_names reads the zone files: load it once per process.
        static NAMES: tokio::sync::OnceCell<std::collections::HashSet<String>> =
            tokio::sync::OnceCell::const_new();
        let names = NAMES
            .get_or_try_init(|| async {
                let names: Vec<String> = sqlx::query_scalar("SELECT name FROM pg_timezone_names")
                    .fetch_all(pool)
                    .await?;
                Ok::<_, sqlx::Error>(names.into_iter().collect())
            })
            .await?;
        if !names.contains(tz) {
            return Err(
                FilterError::new("tz", format!("{tz:?} is not a known IANA time zone")).into(),
            );
        }
    }
    let day_start = |d: chrono::NaiveDate| d.and_hms_opt(0, 0, 0).expect("midnight exists");
    let local: Vec<NaiveDateTime> = match f.time {
        TimeWindow::Between { from, to } => [
            from.and_then(|b| match b {
                TimeBound::Date(d) => Some(day_start(d)),
                TimeBound::Instant(_) => None,
            }),
            to.and_then(|b| match b {
                TimeBound::Date(d) => Some(day_start(d + chrono::Days::new(1))),
                TimeBound::Instant(_) => None,
            }),
        ]
        .into_iter()
        .flatten()
        .collect(),
        _ => Vec::new(),
    };
    let mut resolved: Vec<DateTime<Utc>> = Vec::new();
    if !local.is_empty() {
        resolved = sqlx::query_scalar("SELECT t AT TIME ZONE $2 FROM unnest($1::timestamp[]) WITH ORDINALITY AS u(t, n) ORDER BY n")
            .bind(&local)
            .bind(tz)
            .fetch_all(pool)
            .await?;
    }
    let mut resolved = resolved.into_iter();
    let bounds = match f.time {
        TimeWindow::All => Bounds::default(),
        TimeWindow::Last(r) => Bounds {
            from: Some(now - r.duration()),
            to: None,
        },
        TimeWindow::Between { from, to } => {
            let mut pick = |b: Option<TimeBound>| match b {
                None => None,
                Some(TimeBound::Instant(t)) => Some(t),
                Some(TimeBound::Date(_)) => resolved.next(),
            };
            let from = pick(from);
            let to = pick(to);
            Bounds { from, to }
        }
    };
    if let (Some(a), Some(b)) = (bounds.from, bounds.to) {
        if a > b {
            return Err(FilterError::new("to", "the range ends before it starts").into());
        }
    }
    Ok(bounds)
}

/// `s` as a literal inside a LIKE pattern (`\` is LIKE's escape character).
fn like_escape(s: &str) -> String {
    s.replace('\\', "\\\\")
        .replace('%', "\\%")
        .replace('_', "\\_")
}

/// The identifier inside a search term that has more around it (`req_208900c5b4524753` →
/// `208900c5b4524753`), or `None` when the term is best searched whole.
///
/// Why: pg_trgm splits a term into words at non-alphanumerics and requires every trigram of
/// every word. Short words (`req`, `com`) and word edges are in millions of rows, and a GIN scan
/// that must confirm each candidate in those posting trees reads them almost entirely. The
/// longest word that looks like an identifier (eight or more characters, with a digit) is rare
/// on its own, so its trigrams alone find the few candidates fast.
fn identifier_probe(q: &str) -> Option<&str> {
    let probe = q
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| w.chars().count() >= 8 && w.chars().any(|c| c.is_ascii_digit()))
        .max_by_key(|w| w.chars().count())?;
    (probe.len() < q.len()).then_some(probe)
}

/// Appends ` AND <condition>` for every part of the filter.
fn push_conditions(qb: &mut QueryBuilder<'_, Postgres>, f: &Filter, b: &Bounds) {
    if !f.users.is_empty() {
        let lower: Vec<String> = f.users.iter().map(|u| u.to_lowercase()).collect();
        qb.push(" AND (actor_id = ANY(")
            .push_bind(f.users.clone())
            .push(") OR lower(actor_email) = ANY(")
            .push_bind(lower)
            .push(") OR actor_name = ANY(")
            .push_bind(f.users.clone())
            .push("))");
    }
    if !f.actions.is_empty() {
        let mut exact = Vec::new();
        let mut categories = Vec::new();
        let mut prefixes = Vec::new();
        for a in &f.actions {
            match a {
                ActionPattern::Exact(a) => exact.push(a.clone()),
                // `config.*` is the category column, which has its own time-ordered index.
                ActionPattern::Under(p) if !p.contains('.') => categories.push(p.clone()),
                // Segments are [a-z0-9_]: escape `_` for LIKE.
                ActionPattern::Under(p) => prefixes.push(format!("{}.%", p.replace('_', "\\_"))),
            }
        }
        let mut parts: Vec<(&str, Vec<String>)> = Vec::new();
        if !exact.is_empty() {
            parts.push(("action = ANY(", exact));
        }
        if !categories.is_empty() {
            parts.push(("category = ANY(", categories));
        }
        if !prefixes.is_empty() {
            parts.push(("action LIKE ANY(", prefixes));
        }
        qb.push(" AND (");
        for (i, (sql, values)) in parts.into_iter().enumerate() {
            if i > 0 {
                qb.push(" OR ");
            }
            qb.push(sql).push_bind(values).push(")");
        }
        qb.push(")");
    }
    if let Some(from) = b.from {
        qb.push(" AND occurred_at >= ").push_bind(from);
    }
    if let Some(to) = b.to {
        qb.push(" AND occurred_at < ").push_bind(to);
    }
    if let Some(q) = &f.q {
        match identifier_probe(q) {
            // The index is asked only for the identifier's trigrams; the whole term is then
            // checked in a form the index cannot take (strpos), so the answer stays exact.
            Some(probe) => {
                qb.push(" AND ")
                    .push(SEARCH_TEXT)
                    .push(" LIKE ('%' || lower(")
                    .push_bind(probe.to_string())
                    .push(") || '%') AND strpos(")
                    .push(SEARCH_TEXT)
                    .push(", lower(")
                    .push_bind(q.clone())
                    .push(")) > 0");
            }
            None => {
                qb.push(" AND ")
                    .push(SEARCH_TEXT)
                    .push(" LIKE ('%' || lower(")
                    .push_bind(like_escape(q))
                    .push(") || '%')");
            }
        }
    }
    match &f.resource {
        None => {}
        Some(ResourcePattern::Exact { kind, id }) => {
            qb.push(" AND resource_id = ")
                .push_bind(id.clone())
                .push(" AND resource_type = ")
                .push_bind(kind.clone());
        }
        Some(ResourcePattern::AnyOfType(kind)) => {
            qb.push(" AND resource_type = ").push_bind(kind.clone());
        }
        Some(ResourcePattern::AnyType(id)) => {
            qb.push(" AND resource_id = ").push_bind(id.clone());
        }
    }
    if let Some(status) = f.status {
        qb.push(" AND status = ").push_bind(status.as_str());
    }
    if let Some(ip) = &f.ip {
        qb.push(" AND ip <<= ")
            .push_bind(ip.to_string())
            .push("::inet");
    }
}

fn order_by(order: Order) -> &'static str {
    match order {
        Order::Desc => " ORDER BY occurred_at DESC, seq DESC",
        Order::Asc => " ORDER BY occurred_at ASC, seq ASC",
    }
}

/// One page of results and the cursor for the next, if there is more.
pub struct Page {
    pub entries: Vec<AuditEntry>,
    pub next: Option<Cursor>,
    /// Every entry of the snapshot has a lower `seq`.
    pub seq_limit: i64,
}

/// The first page pins a snapshot: the chain position and the database clock.
pub async fn snapshot(pool: &PgPool) -> Result<(i64, DateTime<Utc>), sqlx::Error> {
    sqlx::query_as("SELECT next_seq, now() FROM chain_head WHERE singleton")
        .fetch_one(pool)
        .await
}

/// Appends the SQL of one page to `qb` (an empty builder, or one that explains the query).
fn push_page_query(
    qb: &mut QueryBuilder<'_, Postgres>,
    f: &Filter,
    bounds: &Bounds,
    seq_limit: i64,
    cursor: Option<Cursor>,
    limit: i64,
) {
    qb.push(format!(
        "SELECT {ROW_COLUMNS} FROM audit_entries WHERE seq < "
    ));
    qb.push_bind(seq_limit);
    push_conditions(qb, f, bounds);
    if let Some(c) = cursor {
        let cmp = if f.order == Order::Desc { "<" } else { ">" };
        qb.push(format!(" AND (occurred_at, seq) {cmp} ("))
            .push_bind(c.occurred_at)
            .push(", ")
            .push_bind(c.seq)
            .push(")");
    }
    qb.push(order_by(f.order)).push(" LIMIT ").push_bind(limit);
}

/// The snapshot a page reads (the cursor's, or a new one for a first page) and its time bounds.
async fn pin(
    pool: &PgPool,
    f: &Filter,
    cursor: Option<Cursor>,
) -> Result<(i64, DateTime<Utc>, Bounds), QueryError> {
    let (seq_limit, now) = match cursor {
        Some(c) => (c.seq_limit, c.now),
        None => snapshot(pool).await?,
    };
    Ok((seq_limit, now, resolve_bounds(pool, f, now).await?))
}

/// A page of `limit` entries matching `f` after `cursor` (keyset on occurred_at, seq).
pub async fn page(
    pool: &PgPool,
    f: &Filter,
    limit: i64,
    cursor: Option<Cursor>,
) -> Result<Page, QueryError> {
    let (seq_limit, now, bounds) = pin(pool, f, cursor).await?;
    Ok(page_from(pool, f, seq_limit, now, &bounds, cursor, limit).await?)
}

/// The page after `cursor` in a pinned snapshot.
async fn page_from(
    pool: &PgPool,
    f: &Filter,
    seq_limit: i64,
    now: DateTime<Utc>,
    bounds: &Bounds,
    cursor: Option<Cursor>,
    limit: i64,
) -> Result<Page, sqlx::Error> {
    // One row more than asked tells whether there is a next page.
    let mut qb = QueryBuilder::new("");
    push_page_query(&mut qb, f, bounds, seq_limit, cursor, limit + 1);
    let mut rows: Vec<EntryRow> = qb.build_query_as().fetch_all(pool).await?;
    let more = rows.len() as i64 > limit;
    rows.truncate(limit as usize);
    let next = match (more, rows.last()) {
        (true, Some(last)) => Some(Cursor {
            occurred_at: last.occurred_at,
            seq: last.seq,
            seq_limit,
            now,
        }),
        _ => None,
    };
    Ok(Page {
        entries: rows.into_iter().map(EntryRow::into_entry).collect(),
        next,
        seq_limit,
    })
}

/// What an export delivers, fixed before its first byte: the chain position and clock it
/// reads at, its time bounds, and the exact number of entries.
#[derive(Clone, Debug)]
pub struct ExportSnapshot {
    pub seq_limit: i64,
    pub now: DateTime<Utc>,
    pub bounds: Bounds,
    pub count: i64,
}

pub async fn export_snapshot(pool: &PgPool, f: &Filter) -> Result<ExportSnapshot, QueryError> {
    let (seq_limit, now) = snapshot(pool).await?;
    let bounds = resolve_bounds(pool, f, now).await?;
    let count = if f.is_everything() {
        seq_limit // seq is gapless
    } else {
        count_in(pool, f, seq_limit, &bounds, None).await?
    };
    Ok(ExportSnapshot {
        seq_limit,
        now,
        bounds,
        count,
    })
}

/// The export's next page after `after` (`None`: the first), from its snapshot, in the
/// filter's order: the same entries, in the same order, as paging the query API.
pub async fn export_page(
    pool: &PgPool,
    f: &Filter,
    s: &ExportSnapshot,
    after: Option<Cursor>,
    limit: i64,
) -> Result<Page, sqlx::Error> {
    page_from(pool, f, s.seq_limit, s.now, &s.bounds, after, limit).await
}

/// A page for a client: the cursor it sent is checked against `key` and the filter, and the
/// next one is signed. The API and the console both page through here.
pub async fn signed_page(
    pool: &PgPool,
    key: &[u8],
    f: &Filter,
    limit: i64,
    cursor: Option<&str>,
) -> Result<EntryPage, QueryError> {
    let canonical = f.to_query_string();
    let cursor = cursor
        .map(|c| Cursor::decode(c, key, &canonical))
        .transpose()
        .map_err(|m| QueryError::Filter(FilterError::new("cursor", m)))?;
    let page = page(pool, f, limit, cursor).await?;
    Ok(EntryPage {
        entries: page.entries,
        next_cursor: page.next.map(|c| c.encode(key, &canonical)),
        snapshot_seq: page.seq_limit - 1,
    })
}

/// `EXPLAIN (ANALYZE, BUFFERS)` of the page query, for the benchmark report (built only
/// with the `bench` feature, never into the product binary).
#[cfg(feature = "bench")]
pub async fn explain_page(
    pool: &PgPool,
    f: &Filter,
    limit: i64,
    cursor: Option<Cursor>,
) -> Result<Vec<String>, QueryError> {
    let (seq_limit, _, bounds) = pin(pool, f, cursor).await?;
    let mut qb = QueryBuilder::new("EXPLAIN (ANALYZE, BUFFERS) ");
    push_page_query(&mut qb, f, &bounds, seq_limit, cursor, limit + 1);
    Ok(qb.build_query_scalar().fetch_all(pool).await?)
}

/// The exact number of entries matching `f` now.
pub async fn count(pool: &PgPool, f: &Filter) -> Result<i64, QueryError> {
    Ok(count_matching(pool, f, None, None).await?.count)
}

/// Counts entries matching `f` with `seq <= through_seq` (a listing's `snapshot_seq`, so live
/// arrivals after it can be added without counting any twice), stopping past `cap` (then
/// `at_least`: bounded work for the line above the table).
pub async fn count_through(
    pool: &PgPool,
    f: &Filter,
    cap: Option<i64>,
    through_seq: Option<i64>,
) -> Result<MatchCount, QueryError> {
    count_matching(pool, f, cap, through_seq).await
}

/// Counts entries matching `f` in a new snapshot, stopping past `cap` when there is one. The
/// whole log is counted exactly from the chain head.
async fn count_matching(
    pool: &PgPool,
    f: &Filter,
    cap: Option<i64>,
    through_seq: Option<i64>,
) -> Result<MatchCount, QueryError> {
    let (head, now) = snapshot(pool).await?;
    let seq_limit = match through_seq {
        Some(s) => head.min(s.saturating_add(1).max(0)),
        None => head,
    };
    if f.is_everything() {
        // seq is gapless: the chain head is the exact count
        return Ok(MatchCount {
            count: seq_limit,
            at_least: false,
        });
    }
    let bounds = resolve_bounds(pool, f, now).await?;
    let n = count_in(pool, f, seq_limit, &bounds, cap).await?;
    Ok(match cap {
        Some(cap) if n > cap => MatchCount {
            count: cap,
            at_least: true,
        },
        _ => MatchCount {
            count: n,
            at_least: false,
        },
    })
}

/// Matching entries below `seq_limit`, counted up to `cap + 1` when there is a cap.
async fn count_in(
    pool: &PgPool,
    f: &Filter,
    seq_limit: i64,
    bounds: &Bounds,
    cap: Option<i64>,
) -> Result<i64, sqlx::Error> {
    let mut qb =
        QueryBuilder::new("SELECT count(*) FROM (SELECT 1 FROM audit_entries WHERE seq < ");
    qb.push_bind(seq_limit);
    push_conditions(&mut qb, f, bounds);
    if let Some(cap) = cap {
        qb.push(" LIMIT ").push_bind(cap + 1);
    }
    qb.push(") AS matching");
    qb.build_query_scalar().fetch_one(pool).await
}

pub async fn by_id(pool: &PgPool, id: Uuid) -> Result<Option<AuditEntry>, sqlx::Error> {
    let row: Option<EntryRow> = sqlx::query_as(&format!(
        "SELECT {ROW_COLUMNS} FROM audit_entries WHERE id = $1"
    ))
    .bind(id)
    .fetch_optional(pool)
    .await?;
    Ok(row.map(EntryRow::into_entry))
}

/// A filter as a live stream applies it: its time window resolved once (dates read in its
/// zone), except `last=` windows, which move with the clock.
#[derive(Clone, Debug)]
pub struct LiveFilter {
    pub filter: Filter,
    bounds: Bounds,
    users_lower: Vec<String>,
    q_lower: Option<String>,
}

impl LiveFilter {
    pub async fn resolve(pool: &PgPool, filter: Filter) -> Result<Self, QueryError> {
        let bounds = resolve_bounds(pool, &filter, Utc::now()).await?;
        Ok(LiveFilter {
            users_lower: filter.users.iter().map(|u| u.to_lowercase()).collect(),
            q_lower: filter.q.as_ref().map(|q| q.to_lowercase()),
            bounds,
            filter,
        })
    }

    fn bounds_at(&self, now: DateTime<Utc>) -> Bounds {
        match self.filter.time {
            TimeWindow::Last(r) => Bounds {
                from: Some(now - r.duration()),
                to: None,
            },
            _ => self.bounds,
        }
    }

    /// Whether a freshly committed entry matches: the same conditions as
    /// [`push_conditions`], evaluated in memory so that one read of new rows serves every
    /// live client (the `live_filter_agrees_with_sql` test holds the two together).
    /// `search_text` is the row's `audit_search_text(…)`, computed by PostgreSQL.
    pub fn matches(&self, entry: &AuditEntry, search_text: &str, now: DateTime<Utc>) -> bool {
        let f = &self.filter;
        let actor = &entry.actor;
        let user_matches = || {
            f.users.contains(&actor.id)
                || actor
                    .email
                    .as_ref()
                    .is_some_and(|e| self.users_lower.contains(&e.to_lowercase()))
                || actor.name.as_ref().is_some_and(|n| f.users.contains(n))
        };
        if !f.users.is_empty() && !user_matches() {
            return false;
        }
        if !f.actions.is_empty() && !f.actions.iter().any(|a| a.matches(&entry.action)) {
            return false;
        }
        let b = self.bounds_at(now);
        if b.from.is_some_and(|from| entry.occurred_at < from)
            || b.to.is_some_and(|to| entry.occurred_at >= to)
        {
            return false;
        }
        if let Some(q) = &self.q_lower {
            if !search_text.contains(q.as_str()) {
                return false;
            }
        }
        if let Some(r) = &f.resource {
            let (kind, id) = match &entry.resource {
                Some(r) => (Some(r.kind.as_str()), Some(r.id.as_str())),
                None => (None, None),
            };
            if !r.matches(kind, id) {
                return false;
            }
        }
        if f.status.is_some_and(|s| s != entry.status) {
            return false;
        }
        if let Some(block) = &f.ip {
            let ip = entry.ip.as_deref().and_then(|ip| ip.parse().ok());
            if !ip.is_some_and(|ip| block.contains(ip)) {
                return false;
            }
        }
        true
    }
}

/// Up to `limit` entries matching `f` with `seq > after`, in `seq` order: a live stream's
/// backfill, read in bounded batches.
pub async fn matching_after(
    pool: &PgPool,
    f: &LiveFilter,
    after: i64,
    limit: i64,
) -> Result<Vec<AuditEntry>, sqlx::Error> {
    let mut qb = QueryBuilder::new(format!(
        "SELECT {ROW_COLUMNS} FROM audit_entries WHERE seq > "
    ));
    qb.push_bind(after);
    push_conditions(&mut qb, &f.filter, &f.bounds_at(Utc::now()));
    qb.push(" ORDER BY seq LIMIT ").push_bind(limit);
    let rows: Vec<EntryRow> = qb.build_query_as().fetch_all(pool).await?;
    Ok(rows.into_iter().map(EntryRow::into_entry).collect())
}

#[derive(sqlx::FromRow)]
struct ActorFacetRow {
    actor_type: String,
    id: String,
    name: Option<String>,
    email: Option<String>,
    count: i64,
}

impl ActorFacetRow {
    fn into_facet(self) -> ActorFacet {
        ActorFacet {
            actor_type: self.actor_type,
            id: self.id,
            name: self.name,
            email: self.email,
            count: self.count,
        }
    }
}

/// One row per actor as the `user=` filter tells them apart: by email (case-insensitively)
/// when there is one, else by id. Every row of a chosen actor counts (not only the rows that
/// matched the search), so the count is what choosing it selects; the most used type, id and
/// name are shown. `{keys}` is a query for the chosen `actor_key`s.
fn actor_groups(keys: &str) -> String {
    format!(
        "WITH chosen AS ({keys}) \
         SELECT (array_agg(s.actor_type ORDER BY s.entry_count DESC, s.actor_type))[1] AS actor_type, \
                (array_agg(s.actor_id ORDER BY s.entry_count DESC, s.actor_id))[1] AS id, \
                (array_agg(s.actor_name ORDER BY s.actor_name IS NULL, s.entry_count DESC, s.actor_name))[1] AS name, \
                (array_agg(s.actor_email ORDER BY s.entry_count DESC, s.actor_email))[1] AS email, \
                sum(s.entry_count)::bigint AS count, \
                chosen.actor_key, chosen.prefix \
         FROM actor_stats s JOIN chosen ON coalesce(lower(s.actor_email), s.actor_id) = chosen.actor_key \
         GROUP BY chosen.actor_key, chosen.prefix"
    )
}

/// Actors whose id, name or email contains `q` (prefix matches first), most active first.
pub async fn actor_facets(
    pool: &PgPool,
    q: &str,
    limit: i64,
) -> Result<Vec<ActorFacet>, sqlx::Error> {
    let escaped = like_escape(&q.to_lowercase());
    let keys = "SELECT coalesce(lower(actor_email), actor_id) AS actor_key, \
                coalesce(bool_or(lower(actor_id) LIKE $1 || '%' OR lower(actor_name) LIKE $1 || '%' \
                   OR lower(actor_email) LIKE $1 || '%'), false) AS prefix \
         FROM actor_stats \
         WHERE $1 = '' OR lower(actor_id) LIKE '%' || $1 || '%' OR lower(actor_name) LIKE '%' || $1 || '%' \
            OR lower(actor_email) LIKE '%' || $1 || '%' \
         GROUP BY 1";
    let rows: Vec<ActorFacetRow> = sqlx::query_as(&format!(
        "{} ORDER BY chosen.prefix DESC, count DESC, chosen.actor_key LIMIT $2",
        actor_groups(keys)
    ))
    .bind(escaped)
    .bind(limit)
    .fetch_all(pool)
    .await?;
    Ok(rows.into_iter().map(ActorFacetRow::into_facet).collect())
}

/// The actors that `user=` values choose (by id, email or name, as the filter matches them),
/// for chips that read "Name <email>".
pub async fn actors_named(
    pool: &PgPool,
    values: &[String],
) -> Result<Vec<ActorFacet>, sqlx::Error> {
    let lowered: Vec<String> = values.iter().map(|v| v.to_lowercase()).collect();
    let keys =
        "SELECT DISTINCT coalesce(lower(actor_email), actor_id) AS actor_key, false AS prefix \
         FROM actor_stats \
         WHERE lower(actor_email) = ANY($1) OR actor_id = ANY($2) OR actor_name = ANY($2)";
    let rows: Vec<ActorFacetRow> =
        sqlx::query_as(&format!("{} ORDER BY chosen.actor_key", actor_groups(keys)))
            .bind(&lowered)
            .bind(values)
            .fetch_all(pool)
            .await?;
    Ok(rows.into_iter().map(ActorFacetRow::into_facet).collect())
}

/// Every action with its count, grouped into categories.
pub async fn action_facets(pool: &PgPool) -> Result<Vec<ActionCategory>, sqlx::Error> {
    let counts: Vec<(String, i64)> =
        sqlx::query_as("SELECT action, entry_count FROM action_stats ORDER BY action")
            .fetch_all(pool)
            .await?;
    Ok(ActionCategory::group(counts))
}

#[cfg(test)]
mod tests {
    use super::identifier_probe;

    #[test]
    fn identifier_probe_takes_the_longest_identifier_inside_a_longer_term() {
        assert_eq!(
            identifier_probe("req_208900c5b4524753"),
            Some("208900c5b4524753")
        );
        assert_eq!(
            identifier_probe("6f1c2a4e-1b2c-4d3e-8f90-a1b2c3d4e5f6"),
            Some("a1b2c3d4e5f6")
        );
        // Whole words, words without digits and short identifiers are searched whole.
        assert_eq!(identifier_probe("208900c5b4524753"), None);
        assert_eq!(identifier_probe("admin@company.com"), None);
        assert_eq!(identifier_probe("cfg_7"), None);
        assert_eq!(identifier_probe("10.0.3.7"), None);
    }
}
