//! `audit_entries`: appending through the chain head, reading, verifying. The columns, the
//! INSERT and the row decoding are generated from the one field list of `domain::entry`.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::LazyLock;

use app::model::{ActorType, AuditEntry, Source, Status};
use chrono::{DateTime, Utc};
use sqlx::{postgres::PgRow, FromRow, PgConnection, PgPool, Row};
use uuid::Uuid;

use crate::domain::{
    entry::chain::{chain_hash, Hash},
    entry::event::NewEvent,
    entry::record::{with_entry_fields, EntryRecord, Form, StoredEntry},
};
use crate::storage::pools;

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
    s.serialize_str(&app::integrity::to_hex(h))
}

/// Why an append stored nothing: the batch is rolled back whole.
#[derive(Debug, thiserror::Error)]
pub enum AppendError {
    /// A client-supplied id is already stored with other content (or repeated so in the batch).
    #[error("event {index}: id {id} is already stored with other content")]
    Conflict { index: usize, id: Uuid },
    /// A client-supplied id names an entry of a month retention archived and dropped: its
    /// content can no longer be compared here, and it cannot be appended twice.
    #[error("event {index}: id {id} is stored as seq {seq}, in a month that was archived and left the database")]
    Archived { index: usize, id: Uuid, seq: i64 },
    /// A row read back inside the append's transaction does not give the leaf hash computed
    /// before it was written: what was hashed is not what PostgreSQL stores. A bug (the batch
    /// is rolled back; the tree would stop at that entry otherwise).
    #[error(
        "entry {seq} as PostgreSQL stores it does not give the leaf hash computed at ingest (a \
         normalisation bug); the batch was rolled back"
    )]
    Unfaithful { seq: i64 },
    /// The database failed (or its chain head is malformed).
    #[error("database: {0}")]
    Db(#[from] sqlx::Error),
}

/// How a field's Rust type is stored: the value bound for it (`Db`), the element type of its
/// `UNNEST` array, how it is selected and inserted, and the conversion both ways. A stored value
/// Trailkeep never writes is an error, reported like any corruption, never relabelled.
trait Column: Sized {
    type Db;
    const ARRAY: &'static str;
    fn select(name: &str) -> String {
        name.to_string()
    }
    fn insert(name: &str) -> String {
        name.to_string()
    }
    fn to_db(&self) -> Self::Db;
    fn from_db(value: Self::Db) -> Result<Self, String>;
}

/// Types stored as themselves.
macro_rules! plain_column {
    ($($ty:ty => $array:literal),* $(,)?) => {$(
        impl Column for $ty {
            type Db = $ty;
            const ARRAY: &'static str = $array;
            fn to_db(&self) -> $ty {
                self.clone()
            }
            fn from_db(value: $ty) -> Result<Self, String> {
                Ok(value)
            }
        }
    )*};
}
plain_column! {
    i64 => "bigint[]",
    Uuid => "uuid[]",
    DateTime<Utc> => "timestamptz[]",
    String => "text[]",
    Option<String> => "text[]",
    serde_json::Value => "jsonb[]",
}

/// Closed sets of words, stored as their text; any other text is corruption.
macro_rules! word_column {
    ($($ty:ty => $what:literal),* $(,)?) => {$(
        impl Column for $ty {
            type Db = String;
            const ARRAY: &'static str = "text[]";
            fn to_db(&self) -> String {
                self.as_str().to_string()
            }
            fn from_db(value: String) -> Result<Self, String> {
                <$ty>::parse(&value).ok_or_else(|| format!(concat!("unknown ", $what, " {:?}"), value))
            }
        }
    )*};
}
word_column! {
    ActorType => "actor type",
    Status => "status",
}

/// The canonical form's number.
impl Column for Form {
    type Db = i16;
    const ARRAY: &'static str = "smallint[]";
    fn to_db(&self) -> i16 {
        self.number()
    }
    fn from_db(value: i16) -> Result<Self, String> {
        Form::from_number(value).ok_or_else(|| format!("unknown canonical form {value}"))
    }
}

/// `trailkeep` or an API key id, as text (`NULL` only in form 1, which the database checks).
impl Column for Option<Source> {
    type Db = Option<String>;
    const ARRAY: &'static str = "text[]";
    fn to_db(&self) -> Option<String> {
        self.map(|s| s.to_string())
    }
    fn from_db(value: Option<String>) -> Result<Self, String> {
        value
            .map(|text| Source::parse(&text).ok_or_else(|| format!("unknown source {text:?}")))
            .transpose()
    }
}

/// `inet`, sent and read as text (`host()` drops the /32 or /128).
impl Column for Option<IpAddr> {
    type Db = Option<String>;
    const ARRAY: &'static str = "text[]";
    fn select(name: &str) -> String {
        format!("host({name}) AS {name}")
    }
    fn insert(name: &str) -> String {
        format!("{name}::inet")
    }
    fn to_db(&self) -> Option<String> {
        self.map(|ip| ip.to_string())
    }
    fn from_db(value: Option<String>) -> Result<Self, String> {
        value
            .map(|text| {
                text.parse()
                    .map_err(|_| format!("{text:?} is not an address"))
            })
            .transpose()
    }
}

/// The SQL of every stored column (the fields, then the two hashes), built once from
/// [`with_entry_fields!`].
struct Sql {
    /// `SELECT` list of a [`StoredEntry`].
    select: String,
    /// One statement inserting [`Columns`] with `UNNEST`.
    insert: String,
}

macro_rules! stored_columns {
    ($($field:ident: $ty:ty),* $(,)?) => {
        /// New rows as parallel arrays, inserted with one `UNNEST` statement.
        #[derive(Default)]
        struct Columns {
            $($field: Vec<<$ty as Column>::Db>,)*
            leaf_hash: Vec<Vec<u8>>,
            chain_hash: Vec<Vec<u8>>,
        }

        impl Columns {
            fn push(&mut self, r: &EntryRecord, leaf: Hash, chain: Hash) {
                $(self.$field.push(Column::to_db(&r.$field));)*
                self.leaf_hash.push(leaf.to_vec());
                self.chain_hash.push(chain.to_vec());
            }

            async fn insert(self, conn: &mut PgConnection) -> Result<(), sqlx::Error> {
                sqlx::query(&SQL.insert)
                    $(.bind(self.$field))*
                    .bind(self.leaf_hash)
                    .bind(self.chain_hash)
                    .execute(conn)
                    .await?;
                Ok(())
            }
        }

        /// `(name, select expression, insert expression, array type)` of every column.
        fn column_specs() -> Vec<(&'static str, String, String, &'static str)> {
            let mut specs = vec![$((
                stringify!($field),
                <$ty as Column>::select(stringify!($field)),
                <$ty as Column>::insert(stringify!($field)),
                <$ty as Column>::ARRAY,
            ),)*];
            for hash in ["leaf_hash", "chain_hash"] {
                specs.push((hash, hash.to_string(), hash.to_string(), "bytea[]"));
            }
            specs
        }

        impl<'r> FromRow<'r, PgRow> for StoredEntry {
            fn from_row(row: &'r PgRow) -> Result<Self, sqlx::Error> {
                Ok(StoredEntry {
                    record: EntryRecord {
                        $($field: {
                            let value: <$ty as Column>::Db = row.try_get(stringify!($field))?;
                            <$ty as Column>::from_db(value).map_err(|e| {
                                sqlx::Error::ColumnDecode {
                                    index: stringify!($field).into(),
                                    source: e.into(),
                                }
                            })?
                        },)*
                    },
                    leaf_hash: row.try_get("leaf_hash")?,
                    chain_hash: row.try_get("chain_hash")?,
                    source_name: row.try_get(SOURCE_NAME)?,
                })
            }
        }
    };
}
with_entry_fields!(stored_columns);

/// Beside the stored columns: the current name of the key in `source` (an index lookup through
/// the `source_key` column the database derives from `source`).
const SOURCE_NAME: &str = "source_name";

static SQL: LazyLock<Sql> = LazyLock::new(|| {
    let specs = column_specs();
    let list = |f: fn(&(&'static str, String, String, &'static str)) -> String| {
        specs.iter().map(f).collect::<Vec<_>>().join(", ")
    };
    let names = list(|s| s.0.to_string());
    Sql {
        select: format!(
            "{}, (SELECT k.name FROM api_keys k WHERE k.id = source_key) AS {SOURCE_NAME}",
            list(|s| s.1.clone())
        ),
        insert: format!(
            "INSERT INTO audit_entries ({names}) SELECT {} FROM UNNEST({}) AS u({names})",
            list(|s| s.2.clone()),
            specs
                .iter()
                .enumerate()
                .map(|(i, s)| format!("${}::{}", i + 1, s.3))
                .collect::<Vec<_>>()
                .join(", "),
        ),
    }
});

/// The `SELECT` list that [`StoredEntry`] decodes: every stored column of an entry and the
/// name of its source key.
pub fn row_columns() -> &'static str {
    &SQL.select
}

/// Appends `events` recorded by `source` atomically: all or nothing, in order, through the
/// chain head.
pub async fn append(
    pool: &PgPool,
    source: Source,
    events: Vec<NewEvent>,
) -> Result<Vec<Appended>, AppendError> {
    let mut conn = pools::acquire(pool, &pools::WRITES).await?;
    let mut tx = sqlx::Connection::begin(&mut *conn).await?;
    let appended = append_in(&mut tx, source, events).await?;
    tx.commit().await?;
    Ok(appended)
}

/// Appends inside the caller's transaction, so a change and its audit entry commit together.
/// `source` is who records them: [`Source::Trailkeep`] for the server's own events, else the
/// authenticated key; it is stored and hashed with every entry.
///
/// Locking the single `chain_head` row (`chain_head_for_append()`, the server's role has no
/// other way to it) serialises every writer of every server process: `seq` stays gapless and
/// each chain hash builds on the committed one before it. The database checks both of every
/// INSERT and moves the head itself (migrations/0007_append_path.sql).
pub async fn append_in(
    conn: &mut PgConnection,
    source: Source,
    events: Vec<NewEvent>,
) -> Result<Vec<Appended>, AppendError> {
    if events.is_empty() {
        return Ok(Vec::new());
    }
    let (next_seq, head, now): (i64, Vec<u8>, DateTime<Utc>) =
        sqlx::query_as("SELECT next_seq, head_hash, now FROM chain_head_for_append()")
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
    // Ids of entries whose month was archived and dropped (their rows are gone).
    let mut archived: HashMap<Uuid, i64> = HashMap::new();
    if !client_ids.is_empty() {
        // Ids live in `entry_ids` (the partitions have no index on them: 0030).
        let stored: Vec<(Uuid, i64)> =
            sqlx::query_as("SELECT id, seq FROM entry_ids WHERE id = ANY($1)")
                .bind(&client_ids)
                .fetch_all(&mut *conn)
                .await?;
        if !stored.is_empty() {
            let seqs: Vec<i64> = stored.iter().map(|(_, seq)| *seq).collect();
            let rows: Vec<StoredEntry> = sqlx::query_as(&format!(
                "SELECT {} FROM audit_entries WHERE seq = ANY($1)",
                row_columns()
            ))
            .bind(&seqs)
            .fetch_all(&mut *conn)
            .await?;
            for row in rows {
                known.insert(row.record.id, (row.record, row.leaf_hash));
            }
            for (id, seq) in stored {
                if !known.contains_key(&id) {
                    archived.insert(id, seq);
                }
            }
        }
    }

    let mut seq = next_seq;
    let mut acks = Vec::with_capacity(events.len());
    let mut new_rows = Columns::default();
    for (index, event) in events.into_iter().enumerate() {
        if let Some(id) = event.id {
            if let Some(seq) = archived.get(&id) {
                return Err(AppendError::Archived {
                    index,
                    id,
                    seq: *seq,
                });
            }
            if let Some((stored, leaf)) = known.get(&id) {
                if !event.matches_stored(stored, source) {
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
        let record = event.clone().into_record(seq, id, now, source);
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
        new_rows.push(&record, leaf, head);
        seq += 1;
    }

    if seq > next_seq {
        // The database checks the rows extend the head, and moves it (0007_append_path.sql).
        new_rows.insert(&mut *conn).await?;
        // Defence in depth: read the rows back exactly as the integrator will, in this
        // transaction, and recompute their leaf hashes; any difference rolls the batch back.
        for row in rows_by_seq(&mut *conn, next_seq, seq).await? {
            if row.record.leaf_hash()[..] != row.leaf_hash[..] {
                return Err(AppendError::Unfaithful {
                    seq: row.record.seq,
                });
            }
        }
    }
    Ok(acks)
}

/// The newest `limit` entries, newest first.
pub async fn recent(pool: &PgPool, limit: i64) -> Result<Vec<AuditEntry>, sqlx::Error> {
    let rows: Vec<StoredEntry> = sqlx::query_as(&format!(
        "SELECT {} FROM audit_entries ORDER BY occurred_at DESC, seq DESC LIMIT $1",
        row_columns()
    ))
    .bind(limit)
    .fetch_all(pool)
    .await?;
    Ok(rows.into_iter().map(StoredEntry::into_entry).collect())
}

/// Rows by position (`from` up to `to_exclusive`), in order: the Merkle tree's leaves, and what
/// tests and tools inspect.
pub async fn rows_by_seq(
    db: impl sqlx::PgExecutor<'_>,
    from: i64,
    to_exclusive: i64,
) -> Result<Vec<StoredEntry>, sqlx::Error> {
    sqlx::query_as(&format!(
        "SELECT {} FROM audit_entries WHERE seq >= $1 AND seq < $2 ORDER BY seq",
        row_columns()
    ))
    .bind(from)
    .bind(to_exclusive)
    .fetch_all(db)
    .await
}

/// The entries at `seqs` (those that exist), in seq order.
pub async fn entries_by_seqs(
    db: impl sqlx::PgExecutor<'_>,
    seqs: &[i64],
) -> Result<Vec<AuditEntry>, sqlx::Error> {
    let rows: Vec<StoredEntry> = sqlx::query_as(&format!(
        "SELECT {} FROM audit_entries WHERE seq = ANY($1) ORDER BY seq",
        row_columns()
    ))
    .bind(seqs)
    .fetch_all(db)
    .await?;
    Ok(rows.into_iter().map(StoredEntry::into_entry).collect())
}

/// How many entries the log holds (the chain head's next seq).
pub async fn count_all(db: impl sqlx::PgExecutor<'_>) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar("SELECT next_seq FROM chain_head WHERE singleton")
        .fetch_one(db)
        .await
}

/// Every entry in seq order, streamed (one row in memory at a time): what `service::chain`
/// verifies, inside a snapshot ([`super::read_only_snapshot`]).
pub fn all_in_order(
    conn: &mut PgConnection,
) -> impl futures::Stream<Item = Result<StoredEntry, sqlx::Error>> + '_ {
    static SQL_ALL: LazyLock<String> =
        LazyLock::new(|| format!("SELECT {} FROM audit_entries ORDER BY seq", row_columns()));
    sqlx::query_as::<_, StoredEntry>(SQL_ALL.as_str()).fetch(conn)
}

/// The chain head: how many entries the log holds and the last chain hash.
pub async fn chain_head(db: impl sqlx::PgExecutor<'_>) -> Result<(i64, Vec<u8>), sqlx::Error> {
    sqlx::query_as("SELECT next_seq, head_hash FROM chain_head WHERE singleton")
        .fetch_one(db)
        .await
}
