//! The console's server functions reach the store through [`app::backend::ConsoleBackend`]:
//! this is its PostgreSQL implementation, which keeps sqlx out of `app`. Errors become
//! [`ConsoleError`]s here, logged with why.

use std::sync::Arc;

use app::backend::{BackendResult, BoxFuture, ConsoleBackend};
use app::error::{ConsoleError, SavedSearchRefusal};
use app::filter::{CanonicalFilter, Filter, SavedSearch};
use app::model::{
    ActionCategory, ActorFacet, ActorFacetPage, AuditEntry, EntryPage, IntegrityEvidence, KeyName,
    MatchCount, NeverRecorded, TopValues, Volume,
};
use sqlx::PgPool;
use uuid::Uuid;

use crate::storage::{self, query::QueryError};

/// The console's view of the store, handed to the Leptos server functions.
pub struct PgConsole {
    pub pool: PgPool,
    pub cursor_key: Arc<Vec<u8>>,
    /// The Settings' late-record threshold.
    pub settings: std::sync::Arc<crate::service::settings::SettingsCache>,
    pub log_key: Option<Arc<crate::domain::integrity::checkpoint::VerifierKey>>,
    pub signer_memory: Option<Arc<crate::service::checkpoints::Memory>>,
    /// When a signer that signs nothing although the log grew is an alarm.
    pub stale_after: std::time::Duration,
}

/// The store could not answer: logged here (with why), `Unavailable` to the console, or
/// `TooSlow` when the read ran into its statement timeout.
fn unavailable(e: sqlx::Error) -> ConsoleError {
    if storage::is_statement_timeout(&e) {
        tracing::warn!("a console read ran into the statement timeout");
        return ConsoleError::TooSlow;
    }
    tracing::error!(error = %e, "database error");
    ConsoleError::Unavailable
}

fn saved_search(row: storage::saved_searches::SavedSearchRow) -> SavedSearch {
    SavedSearch {
        id: row.id,
        name: row.name,
        // Stored canonical; parsed again wherever it is used.
        filter: CanonicalFilter::from_stored(row.filter),
        shared: row.shared,
        owner_name: row.owner_name,
        mine: row.mine,
    }
}

fn query_failed(e: QueryError) -> ConsoleError {
    match e {
        QueryError::Filter(f) => ConsoleError::BadFilter(f),
        QueryError::TooSlow => {
            tracing::warn!("a console read ran into the statement timeout");
            ConsoleError::TooSlow
        }
        QueryError::Db(e) => unavailable(e),
    }
}

impl ConsoleBackend for PgConsole {
    fn integrity(&self, seqs: Vec<i64>) -> BoxFuture<'_, BackendResult<Option<IntegrityEvidence>>> {
        Box::pin(async move {
            let Some(latest) =
                crate::service::checkpoints::newest_verified(&self.pool, self.log_key.as_deref())
                    .await
                    .map_err(unavailable)?
            else {
                return Ok(None);
            };
            let proofs = crate::service::tree::inclusions(&self.pool, &seqs, latest.size as u64)
                .await
                .map_err(|e| match e {
                    crate::service::tree::TreeReadError::Db(e) => unavailable(e),
                    e @ (crate::service::tree::TreeReadError::Tree(_)
                    | crate::service::tree::TreeReadError::Beyond(_)) => {
                        tracing::error!(error = %e, "the stored tree cannot prove entries");
                        ConsoleError::Unavailable
                    }
                })?;
            // The signer's verdict, as every process reads it from the database.
            let refused = match &self.log_key {
                None => None,
                Some(key) => match crate::service::checkpoints::health(
                    &self.pool,
                    key,
                    self.signer_memory.as_deref(),
                    Some(self.stale_after),
                )
                .await
                {
                    Ok(crate::service::checkpoints::CheckpointHealth::Refused(r)) => {
                        Some(r.finding())
                    }
                    Ok(_) => None,
                    Err(e) => {
                        tracing::warn!(error = %e, "cannot check the signer's health");
                        None
                    }
                },
            };
            Ok(Some(IntegrityEvidence {
                refused,
                note: latest.note,
                size: latest.size,
                signed_at: latest.signed_at,
                server_key: self.log_key.as_ref().map(|k| k.as_str().to_string()),
                proofs: seqs
                    .iter()
                    .zip(proofs)
                    .filter_map(|(seq, p)| Some((*seq, p?)))
                    .collect(),
            }))
        })
    }

    fn page(
        &self,
        filter: Filter,
        cursor: Option<String>,
        limit: i64,
    ) -> BoxFuture<'_, BackendResult<EntryPage>> {
        Box::pin(async move {
            storage::query::signed_page(
                &self.pool,
                &self.cursor_key,
                &filter,
                limit,
                cursor.as_deref(),
            )
            .await
            .map_err(query_failed)
        })
    }

    fn count(
        &self,
        filter: Filter,
        cap: Option<i64>,
        through_seq: Option<i64>,
    ) -> BoxFuture<'_, BackendResult<MatchCount>> {
        Box::pin(async move {
            storage::query::count_through(&self.pool, &filter, cap, through_seq)
                .await
                .map_err(query_failed)
        })
    }

    fn entry(&self, id: Uuid) -> BoxFuture<'_, BackendResult<Option<AuditEntry>>> {
        Box::pin(async move {
            storage::query::by_id(&self.pool, id)
                .await
                .map_err(unavailable)
        })
    }

    fn user_facets(
        &self,
        q: String,
        others: Filter,
        limit: i64,
        offset: i64,
    ) -> BoxFuture<'_, BackendResult<ActorFacetPage>> {
        Box::pin(async move {
            storage::query::actor_facet_page(&self.pool, &q, &others, limit, offset)
                .await
                .map_err(query_failed)
        })
    }

    fn action_facets(&self, others: Filter) -> BoxFuture<'_, BackendResult<Vec<ActionCategory>>> {
        Box::pin(async move {
            storage::query::action_facets_under(&self.pool, &others)
                .await
                .map_err(query_failed)
        })
    }

    fn actors(&self, values: Vec<String>) -> BoxFuture<'_, BackendResult<Vec<ActorFacet>>> {
        Box::pin(async move {
            storage::query::actors_named(&self.pool, &values)
                .await
                .map_err(unavailable)
        })
    }

    fn top_values(
        &self,
        filter: Filter,
        limit: i64,
    ) -> BoxFuture<'_, BackendResult<Vec<TopValues>>> {
        Box::pin(async move {
            storage::query::top_values(&self.pool, &filter, limit)
                .await
                .map_err(query_failed)
        })
    }

    fn never_recorded(&self, filter: Filter) -> BoxFuture<'_, BackendResult<Vec<NeverRecorded>>> {
        Box::pin(async move {
            storage::query::never_recorded(&self.pool, &filter)
                .await
                .map_err(unavailable)
        })
    }

    fn saved_searches(&self, viewer: Uuid) -> BoxFuture<'_, BackendResult<Vec<SavedSearch>>> {
        Box::pin(async move {
            let rows = storage::saved_searches::visible_to(&self.pool, viewer)
                .await
                .map_err(unavailable)?;
            Ok(rows.into_iter().map(saved_search).collect())
        })
    }

    fn saved_search(&self, viewer: Uuid, id: Uuid) -> BoxFuture<'_, BackendResult<SavedSearch>> {
        Box::pin(async move {
            storage::saved_searches::find(&self.pool, viewer, id)
                .await
                .map_err(unavailable)?
                .map(saved_search)
                .ok_or(ConsoleError::SavedSearch(SavedSearchRefusal::NotFound))
        })
    }

    fn save_search(
        &self,
        owner: Uuid,
        name: String,
        filter: Filter,
        shared: bool,
    ) -> BoxFuture<'_, BackendResult<SavedSearch>> {
        Box::pin(async move {
            use storage::saved_searches::SaveRefused;
            let canonical = filter.to_query_string();
            let id = storage::saved_searches::insert(&self.pool, owner, &name, &canonical, shared)
                .await
                .map_err(|e| match e {
                    SaveRefused::Duplicate => {
                        ConsoleError::SavedSearch(SavedSearchRefusal::DuplicateName)
                    }
                    SaveRefused::TooMany => ConsoleError::SavedSearch(SavedSearchRefusal::TooMany),
                    SaveRefused::Db(e) => unavailable(e),
                })?;
            self.saved_search(owner, id).await
        })
    }

    fn delete_search(&self, owner: Uuid, id: Uuid) -> BoxFuture<'_, BackendResult<()>> {
        Box::pin(async move {
            match storage::saved_searches::delete(&self.pool, owner, id).await {
                Ok(true) => Ok(()),
                Ok(false) => Err(ConsoleError::SavedSearch(SavedSearchRefusal::NotFound)),
                Err(e) => Err(unavailable(e)),
            }
        })
    }

    fn volume(&self, filter: Filter) -> BoxFuture<'_, BackendResult<Option<Volume>>> {
        Box::pin(async move {
            storage::query::volume(&self.pool, &filter)
                .await
                .map_err(query_failed)
        })
    }

    fn any_after(&self, filter: Filter, after_seq: i64) -> BoxFuture<'_, BackendResult<bool>> {
        Box::pin(async move {
            storage::query::any_after(&self.pool, &filter, after_seq)
                .await
                .map_err(query_failed)
        })
    }

    fn key_names(&self, ids: Vec<Uuid>) -> BoxFuture<'_, BackendResult<Vec<KeyName>>> {
        Box::pin(async move {
            let names = storage::api_keys::names(&self.pool, &ids)
                .await
                .map_err(unavailable)?;
            Ok(names
                .into_iter()
                .map(|(id, name)| KeyName { id, name })
                .collect())
        })
    }

    fn imports_history(&self, id: Uuid) -> BoxFuture<'_, BackendResult<bool>> {
        Box::pin(async move {
            storage::api_keys::imports_history(&self.pool, id)
                .await
                .map_err(unavailable)
        })
    }

    fn recorded_late_after(&self) -> chrono::Duration {
        chrono::Duration::seconds(i64::from(self.settings.latest().late_record_seconds))
    }
}
