//! `audit_entries`: appending through the chain head, reading, verifying.

use std::collections::HashMap;

use app::model::{Actor, ActorType, AuditEntry, Resource, Status};
use chrono::{DateTime, Utc};
use futures::TryStreamExt;
use sqlx::{FromRow, PgConnection, PgPool};
use uuid::Uuid;

use crate::domain::{
    chain::{chain_hash, EntryRecord, Hash, GENESIS},
    event::NewEvent,
};

/// What the ingest API acknowledges for each event.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
pub struct Appended {
    pub id: Uuid,
    pub seq: i64,
    /// SHA-256 leaf hash, lower-case hex.
    #[serde(serialize_with = "hex_hash")]
    #[schema(value_type = String)]
    pub leaf_hash: Vec<u8>,
}

fn hex_hash<S: serde::Serializer>(h: &[u8], s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&hex::encode(h))
}

#[derive(Debug)]
pub enum AppendError {
    /// A client-supplied id is already stored with other content (or repeated so in the batch).
    Conflict {
        index: usize,
        id: Uuid,
    },
    Db(sqlx::Error),
}

impl From<sqlx::Error> for AppendError {
    fn from(e: sqlx::Error) -> Self {
        AppendError::Db(e)
    }
}

/// One stored row, as read back.
#[derive(Debug, FromRow)]
pub struct EntryRow {
    pub seq: i64,
    pub id: Uuid,
    pub occurred_at: DateTime<Utc>,
    pub recorded_at: DateTime<Utc>,
    pub actor_type: String,
    pub actor_id: String,
    pub actor_name: Option<String>,
    pub actor_email: Option<String>,
    pub action: String,
    pub resource_type: Option<String>,
    pub resource_id: Option<String>,
    pub ip: Option<String>,
    pub user_agent: Option<String>,
    pub status: String,
    pub details: serde_json::Value,
    pub leaf_hash: Vec<u8>,
    pub chain_hash: Vec<u8>,
}

/// The columns of [`EntryRow`], in one place.
pub const ROW_COLUMNS: &str =
    "seq, id, occurred_at, recorded_at, actor_type, actor_id, actor_name, \
    actor_email, action, resource_type, resource_id, host(ip) AS ip, user_agent, status, details, \
    leaf_hash, chain_hash";

impl EntryRow {
    /// The hashed fields as stored. `None` if a column holds something Trailkeep never writes.
    pub fn record(&self) -> Option<EntryRecord> {
        Some(EntryRecord {
            seq: self.seq,
            id: self.id,
            occurred_at: self.occurred_at,
            recorded_at: self.recorded_at,
            actor_type: ActorType::parse(&self.actor_type)?,
            actor_id: self.actor_id.clone(),
            actor_name: self.actor_name.clone(),
            actor_email: self.actor_email.clone(),
            action: self.action.clone(),
            resource_type: self.resource_type.clone(),
            resource_id: self.resource_id.clone(),
            ip: match &self.ip {
                None => None,
                Some(text) => Some(text.parse().ok()?),
            },
            user_agent: self.user_agent.clone(),
            status: Status::parse(&self.status)?,
            details: self.details.clone(),
        })
    }

    pub fn into_entry(self) -> AuditEntry {
        let resource = match (self.resource_type, self.resource_id) {
            (Some(kind), Some(id)) => Some(Resource { kind, id }),
            _ => None,
        };
        AuditEntry {
            id: self.id,
            seq: self.seq,
            occurred_at: self.occurred_at,
            recorded_at: self.recorded_at,
            action: self.action,
            actor: Actor {
                kind: ActorType::parse(&self.actor_type).unwrap_or(ActorType::System),
                id: self.actor_id,
                name: self.actor_name,
                email: self.actor_email,
            },
            resource,
            ip: self.ip,
            user_agent: self.user_agent,
            status: Status::parse(&self.status).unwrap_or(Status::Failure),
            details: self.details,
            leaf_hash: hex::encode(self.leaf_hash),
        }
    }
}

/// Appends `events` atomically: all or nothing, in order, through the chain head.
pub async fn append(pool: &PgPool, events: Vec<NewEvent>) -> Result<Vec<Appended>, AppendError> {
    let mut tx = pool.begin().await?;
    let appended = append_in(&mut tx, events).await?;
    tx.commit().await?;
    Ok(appended)
}

/// Appends inside the caller's transaction, so a change and its audit entry commit together.
///
/// Locking the single `chain_head` row serialises every writer of every server process:
/// `seq` stays gapless and each chain hash builds on the committed one before it.
pub async fn append_in(
    conn: &mut PgConnection,
    events: Vec<NewEvent>,
) -> Result<Vec<Appended>, AppendError> {
    if events.is_empty() {
        return Ok(Vec::new());
    }
    let (next_seq, head, now): (i64, Vec<u8>, DateTime<Utc>) = sqlx::query_as(
        "SELECT next_seq, head_hash, clock_timestamp() FROM chain_head WHERE singleton FOR UPDATE",
    )
    .fetch_one(&mut *conn)
    .await?;
    let mut head: Hash = head.try_into().map_err(|_| {
        AppendError::Db(sqlx::Error::Protocol(
            "chain_head.head_hash is not 32 bytes".into(),
        ))
    })?;

    // Idempotent retries: ids the client chose that are already stored.
    let client_ids: Vec<Uuid> = events.iter().filter_map(|e| e.id).collect();
    let mut known: HashMap<Uuid, (EntryRecord, Vec<u8>)> = HashMap::new();
    if !client_ids.is_empty() {
        let rows: Vec<EntryRow> = sqlx::query_as(&format!(
            "SELECT {ROW_COLUMNS} FROM audit_entries WHERE id = ANY($1)"
        ))
        .bind(&client_ids)
        .fetch_all(&mut *conn)
        .await?;
        for row in rows {
            if let Some(record) = row.record() {
                known.insert(row.id, (record, row.leaf_hash));
            }
        }
    }

    let mut seq = next_seq;
    let mut acks = Vec::with_capacity(events.len());
    let mut new_rows = Columns::with_capacity(events.len());
    for (index, event) in events.into_iter().enumerate() {
        if let Some(id) = event.id {
            if let Some((stored, leaf)) = known.get(&id) {
                if !event.matches_stored(stored) {
                    return Err(AppendError::Conflict { index, id });
                }
                acks.push(Appended {
                    id,
                    seq: stored.seq,
                    leaf_hash: leaf.clone(),
                });
                continue;
            }
        }
        let id = event.id.unwrap_or_else(Uuid::new_v4);
        let record = event.clone().into_record(seq, id, now);
        let leaf = record.leaf_hash();
        head = chain_hash(&head, &leaf);
        acks.push(Appended {
            id,
            seq,
            leaf_hash: leaf.to_vec(),
        });
        // A repeated client id inside one batch is a retry of the first copy.
        if event.id.is_some() {
            known.insert(id, (record.clone(), leaf.to_vec()));
        }
        new_rows.push(record, leaf, head);
        seq += 1;
    }

    if seq > next_seq {
        new_rows.insert(&mut *conn).await?;
        sqlx::query("UPDATE chain_head SET next_seq = $1, head_hash = $2 WHERE singleton")
            .bind(seq)
            .bind(&head[..])
            .execute(&mut *conn)
            .await?;
    }
    Ok(acks)
}

/// New rows as parallel arrays, inserted with one `UNNEST` statement.
struct Columns {
    seq: Vec<i64>,
    id: Vec<Uuid>,
    occurred_at: Vec<DateTime<Utc>>,
    recorded_at: Vec<DateTime<Utc>>,
    actor_type: Vec<&'static str>,
    actor_id: Vec<String>,
    actor_name: Vec<Option<String>>,
    actor_email: Vec<Option<String>>,
    action: Vec<String>,
    resource_type: Vec<Option<String>>,
    resource_id: Vec<Option<String>>,
    ip: Vec<Option<String>>,
    user_agent: Vec<Option<String>>,
    status: Vec<&'static str>,
    details: Vec<serde_json::Value>,
    leaf_hash: Vec<Vec<u8>>,
    chain_hash: Vec<Vec<u8>>,
}

impl Columns {
    fn with_capacity(n: usize) -> Self {
        Columns {
            seq: Vec::with_capacity(n),
            id: Vec::with_capacity(n),
            occurred_at: Vec::with_capacity(n),
            recorded_at: Vec::with_capacity(n),
            actor_type: Vec::with_capacity(n),
            actor_id: Vec::with_capacity(n),
            actor_name: Vec::with_capacity(n),
            actor_email: Vec::with_capacity(n),
            action: Vec::with_capacity(n),
            resource_type: Vec::with_capacity(n),
            resource_id: Vec::with_capacity(n),
            ip: Vec::with_capacity(n),
            user_agent: Vec::with_capacity(n),
            status: Vec::with_capacity(n),
            details: Vec::with_capacity(n),
            leaf_hash: Vec::with_capacity(n),
            chain_hash: Vec::with_capacity(n),
        }
    }

    fn push(&mut self, r: EntryRecord, leaf: Hash, chain: Hash) {
        self.seq.push(r.seq);
        self.id.push(r.id);
        self.occurred_at.push(r.occurred_at);
        self.recorded_at.push(r.recorded_at);
        self.actor_type.push(r.actor_type.as_str());
        self.actor_id.push(r.actor_id);
        self.actor_name.push(r.actor_name);
        self.actor_email.push(r.actor_email);
        self.action.push(r.action);
        self.resource_type.push(r.resource_type);
        self.resource_id.push(r.resource_id);
        self.ip.push(r.ip.map(|ip| ip.to_string()));
        self.user_agent.push(r.user_agent);
        self.status.push(r.status.as_str());
        self.details.push(r.details);
        self.leaf_hash.push(leaf.to_vec());
        self.chain_hash.push(chain.to_vec());
    }

    async fn insert(self, conn: &mut PgConnection) -> Result<(), sqlx::Error> {
        sqlx::query(
            "INSERT INTO audit_entries (seq, id, occurred_at, recorded_at, actor_type, actor_id, \
                 actor_name, actor_email, action, resource_type, resource_id, ip, user_agent, \
                 status, details, leaf_hash, chain_hash) \
             SELECT seq, id, occurred_at, recorded_at, actor_type, actor_id, actor_name, \
                 actor_email, action, resource_type, resource_id, ip::inet, user_agent, status, \
                 details, leaf_hash, chain_hash \
             FROM UNNEST($1::bigint[], $2::uuid[], $3::timestamptz[], $4::timestamptz[], \
                 $5::text[], $6::text[], $7::text[], $8::text[], $9::text[], $10::text[], \
                 $11::text[], $12::text[], $13::text[], $14::text[], $15::jsonb[], $16::bytea[], \
                 $17::bytea[]) \
             AS u(seq, id, occurred_at, recorded_at, actor_type, actor_id, actor_name, \
                 actor_email, action, resource_type, resource_id, ip, user_agent, status, \
                 details, leaf_hash, chain_hash)",
        )
        .bind(self.seq)
        .bind(self.id)
        .bind(self.occurred_at)
        .bind(self.recorded_at)
        .bind(self.actor_type)
        .bind(self.actor_id)
        .bind(self.actor_name)
        .bind(self.actor_email)
        .bind(self.action)
        .bind(self.resource_type)
        .bind(self.resource_id)
        .bind(self.ip)
        .bind(self.user_agent)
        .bind(self.status)
        .bind(self.details)
        .bind(self.leaf_hash)
        .bind(self.chain_hash)
        .execute(conn)
        .await?;
        Ok(())
    }
}

/// The newest `limit` entries, newest first.
pub async fn recent(pool: &PgPool, limit: i64) -> Result<Vec<AuditEntry>, sqlx::Error> {
    let rows: Vec<EntryRow> = sqlx::query_as(&format!(
        "SELECT {ROW_COLUMNS} FROM audit_entries ORDER BY occurred_at DESC, seq DESC LIMIT $1"
    ))
    .bind(limit)
    .fetch_all(pool)
    .await?;
    Ok(rows.into_iter().map(EntryRow::into_entry).collect())
}

/// Rows by position, for tests and tools that inspect what is stored.
pub async fn rows_by_seq(
    pool: &PgPool,
    from: i64,
    to_exclusive: i64,
) -> Result<Vec<EntryRow>, sqlx::Error> {
    sqlx::query_as(&format!(
        "SELECT {ROW_COLUMNS} FROM audit_entries WHERE seq >= $1 AND seq < $2 ORDER BY seq"
    ))
    .bind(from)
    .bind(to_exclusive)
    .fetch_all(pool)
    .await
}

pub async fn count_all(pool: &PgPool) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar("SELECT next_seq FROM chain_head WHERE singleton")
        .fetch_one(pool)
        .await
}

/// Recent failed sign-ins for an email (for the lockout), counted from the log itself so
/// every server process sees the same number.
pub async fn recent_login_failures(
    pool: &PgPool,
    email: &str,
    window_minutes: i32,
) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar(
        "SELECT count(*) FROM audit_entries \
         WHERE lower(actor_email) = lower($1) AND action = 'user.login_failed' \
           AND details->>'reason' IN ('bad_password', 'unknown_user') \
           AND occurred_at > now() - make_interval(mins => $2)",
    )
    .bind(email)
    .bind(window_minutes)
    .fetch_one(pool)
    .await
}

#[derive(Debug, PartialEq, Eq)]
pub enum Verdict {
    Ok { entries: i64 },
    Bad { seq: i64, reason: String },
}

/// Recomputes every leaf and chain hash in seq order, then checks the chain head.
/// Runs in one repeatable-read snapshot, so appends during the check cannot confuse it.
pub async fn verify(pool: &PgPool) -> Result<Verdict, sqlx::Error> {
    let mut tx = pool.begin().await?;
    sqlx::query("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
        .execute(&mut *tx)
        .await?;
    let sql = format!("SELECT {ROW_COLUMNS} FROM audit_entries ORDER BY seq");
    let mut rows = sqlx::query_as::<_, EntryRow>(&sql).fetch(&mut *tx);
    let mut expected_seq = 0i64;
    let mut head = GENESIS;
    while let Some(row) = rows.try_next().await? {
        let bad = |reason: &str| Verdict::Bad {
            seq: expected_seq,
            reason: reason.to_string(),
        };
        if row.seq != expected_seq {
            return Ok(bad(&format!(
                "entry {expected_seq} is missing (next stored seq is {})",
                row.seq
            )));
        }
        let Some(record) = row.record() else {
            return Ok(bad("a column holds a value Trailkeep never writes"));
        };
        let leaf = record.leaf_hash();
        if row.leaf_hash != leaf {
            return Ok(bad("leaf hash does not match the entry's content"));
        }
        head = chain_hash(&head, &leaf);
        if row.chain_hash != head {
            return Ok(bad("chain hash does not follow from the previous entry"));
        }
        expected_seq += 1;
    }
    drop(rows);
    let (next_seq, head_hash): (i64, Vec<u8>) =
        sqlx::query_as("SELECT next_seq, head_hash FROM chain_head WHERE singleton")
            .fetch_one(&mut *tx)
            .await?;
    if next_seq != expected_seq {
        return Ok(Verdict::Bad {
            seq: expected_seq,
            reason: format!("the chain head records {next_seq} entries, {expected_seq} are stored"),
        });
    }
    if head_hash != head {
        return Ok(Verdict::Bad {
            seq: expected_seq - 1,
            reason: "the chain head hash does not match the last entry".into(),
        });
    }
    Ok(Verdict::Ok {
        entries: expected_seq,
    })
}
