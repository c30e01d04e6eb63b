//! Server functions the console calls. Each checks the signed-in user itself: the guard in
//! front of them only establishes who that is. Each fails with a [`ConsoleError`], matched by
//! variant in the pages. Filters travel in their canonical query-string
//! form and are parsed by the same `Filter` the REST API uses.

use leptos::prelude::*;
// JSON request bodies: no query-string encoder in the bundle, and the server refuses any other
// Content-Type (server/src/infra/http/origin.rs), which a cross-site form cannot send: it
// would need a CORS preflight this server never grants.
use leptos::server_fn::codec::Json;
use uuid::Uuid;

use crate::error::ConsoleError;
use crate::filter::CanonicalFilter;
use crate::model::{
    ActionCategory, ActorFacetPage, ChipVocabulary, EntryPage, EntryView, IntegrityEvidence,
    MatchCount, SessionUser,
};

/// Entries per page of the table.
pub const PAGE_SIZE: i64 = 100;
/// Above this many matches the quick count stops ("10,000+") and the exact count follows.
pub const COUNT_CAP: i64 = 10_000;

#[cfg(feature = "ssr")]
async fn session_user() -> Result<SessionUser, ConsoleError> {
    leptos_axum::extract::<axum::Extension<SessionUser>>()
        .await
        .map(|axum::Extension(user)| user)
        .map_err(|_| ConsoleError::SignedOut)
}

/// A refusal answered with its own status (403), not the 500 of a failure.
#[cfg(feature = "ssr")]
fn refused(status: axum::http::StatusCode, error: ConsoleError) -> ConsoleError {
    if let Some(response) = use_context::<leptos_axum::ResponseOptions>() {
        response.set_status(status);
    }
    error
}

/// The console backend, once the user is known to be allowed to read the log.
#[cfg(feature = "ssr")]
async fn reader_backend() -> Result<crate::backend::SharedBackend, ConsoleError> {
    let user = session_user().await?;
    if !user.role.can_read_log() {
        return Err(refused(
            axum::http::StatusCode::FORBIDDEN,
            ConsoleError::NoAccess,
        ));
    }
    use_context::<crate::backend::SharedBackend>()
        .ok_or_else(|| ConsoleError::Broken("the console backend is missing".into()))
}

/// Who is signed in, for the header.
#[server(input = Json)]
pub async fn whoami() -> Result<SessionUser, ConsoleError> {
    session_user().await
}

/// A page of entries matching `filter`, after `cursor`.
#[server(input = Json)]
pub async fn search_entries(
    filter: CanonicalFilter,
    cursor: Option<String>,
) -> Result<EntryPage, ConsoleError> {
    let backend = reader_backend().await?;
    let filter = filter.parse()?;
    backend.page(filter, cursor, PAGE_SIZE).await
}

/// How many entries match `filter` with `seq <= through_seq` (a listing's snapshot, so live
/// arrivals can be added to it), counted up to [`COUNT_CAP`]: quick, for the line above the
/// table.
#[server(input = Json)]
pub async fn count_entries(
    filter: CanonicalFilter,
    through_seq: Option<i64>,
) -> Result<MatchCount, ConsoleError> {
    let backend = reader_backend().await?;
    let filter = filter.parse()?;
    backend.count(filter, Some(COUNT_CAP), through_seq).await
}

/// Exactly how many entries match `filter` (with `seq <= through_seq`), however many: what
/// an export will deliver.
#[server(input = Json)]
pub async fn exact_count(
    filter: CanonicalFilter,
    through_seq: Option<i64>,
) -> Result<MatchCount, ConsoleError> {
    let backend = reader_backend().await?;
    let filter = filter.parse()?;
    backend.count(filter, None, through_seq).await
}

/// Entries the integrity badge asks about at once, at most (a page of the table).
pub const MAX_PROVEN: usize = PAGE_SIZE as usize;

/// What the browser needs to verify the log's integrity itself: the latest signed checkpoint
/// and the inclusion proofs of `seqs` (at most [`MAX_PROVEN`]).
#[server(input = Json)]
pub async fn integrity_check(seqs: Vec<i64>) -> Result<Option<IntegrityEvidence>, ConsoleError> {
    let backend = reader_backend().await?;
    if seqs.len() > MAX_PROVEN {
        return Err(ConsoleError::Broken(format!(
            "at most {MAX_PROVEN} entries' proofs at once"
        )));
    }
    backend.integrity(seqs).await
}

/// One entry, for the detail panel.
#[server(input = Json)]
pub async fn get_entry(id: Uuid) -> Result<Option<EntryView>, ConsoleError> {
    let backend = reader_backend().await?;
    let entry = backend.entry(id).await?;
    let late_after = backend.recorded_late_after();
    Ok(entry.map(|entry| EntryView::new(entry, late_after)))
}

/// What makes chips readable, in one call: the actors these `user=` values choose ("Name
/// <email>") and, when `categories`, the action categories (a whole category is one chip).
#[server(input = Json)]
pub async fn chip_words(
    users: Vec<String>,
    categories: bool,
) -> Result<ChipVocabulary, ConsoleError> {
    let backend = reader_backend().await?;
    let users: Vec<String> = users
        .into_iter()
        .take(crate::filter::MAX_VALUES)
        .map(|v| v.chars().take(crate::filter::MAX_VALUE_LEN).collect())
        .collect();
    Ok(ChipVocabulary {
        actors: if users.is_empty() {
            Vec::new()
        } else {
            backend.actors(users).await?
        },
        categories: if categories {
            backend.action_facets().await?
        } else {
            Vec::new()
        },
    })
}

/// Actors in one page of the user picker.
pub const USER_PAGE: i64 = 20;

/// Actors matching `q`, for the user picker: [`USER_PAGE`] from `offset`, counted under the
/// filter on screen without its users (`filter`), and how many match in all.
#[server(input = Json)]
pub async fn user_facets(
    q: String,
    filter: CanonicalFilter,
    offset: i64,
) -> Result<ActorFacetPage, ConsoleError> {
    let backend = reader_backend().await?;
    let q: String = q.trim().chars().take(256).collect();
    let mut others = filter.parse()?;
    others.users.clear();
    backend
        .user_facets(q, others, USER_PAGE, offset.clamp(0, 1_000_000))
        .await
}

/// Categories and actions with counts, for the action picker.
#[server(input = Json)]
pub async fn action_facets() -> Result<Vec<ActionCategory>, ConsoleError> {
    let backend = reader_backend().await?;
    backend.action_facets().await
}
