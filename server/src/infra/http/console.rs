//! The console's server functions reach the store through [`app::backend::ConsoleBackend`]:
//! this is its PostgreSQL implementation, which keeps sqlx out of `app`. Errors become
//! [`ConsoleError`]s here, logged with why.

use std::sync::Arc;

use app::backend::{BackendResult, BoxFuture, ConsoleBackend};
use app::error::ConsoleError;
use app::filter::Filter;
use app::model::{
    ActionCategory, ActorFacet, ActorFacetPage, AuditEntry, EntryPage, IntegrityEvidence,
    MatchCount,
};
use sqlx::PgPool;
use uuid::Uuid;

use crate::storage::{self, query::QueryError};

/// The console's view of the store, handed to the Leptos server functions.
pub struct PgConsole {
    pub pool: PgPool,
    pub cursor_key: Arc<Vec<u8>>,
    pub recorded_late_after: chrono::Duration,
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

    fn action_facets(&self) -> BoxFuture<'_, BackendResult<Vec<ActionCategory>>> {
        Box::pin(async move {
            storage::query::action_facets(&self.pool)
                .await
                .map_err(unavailable)
        })
    }

    fn actors(&self, values: Vec<String>) -> BoxFuture<'_, BackendResult<Vec<ActorFacet>>> {
        Box::pin(async move {
            storage::query::actors_named(&self.pool, &values)
                .await
                .map_err(unavailable)
        })
    }

    fn recorded_late_after(&self) -> chrono::Duration {
        self.recorded_late_after
    }
}
