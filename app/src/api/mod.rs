//! Server functions the console calls. Each checks the signed-in user itself: the guard in
//! front of them only establishes who that is. Each fails with a [`ConsoleError`], matched by
//! variant in the pages. Filters travel in their canonical query-string
//! form and are parsed by the same `Filter` the REST API uses.

pub mod account;
pub mod alerts;
pub mod exports;
pub mod invitations;
pub mod keys;
pub mod settings;
pub mod users;

use leptos::prelude::*;
// JSON request bodies: no query-string encoder in the bundle, and the server refuses any other
// Content-Type (server/src/infra/http/origin.rs), which a cross-site form cannot send: it
// would need a CORS preflight this server never grants.
use leptos::server_fn::codec::Json;
use uuid::Uuid;

use crate::error::ConsoleError;
use crate::filter::{CanonicalFilter, SavedSearch};
use crate::model::{
    ActionCategory, ActorFacetPage, ChipVocabulary, EntryPage, EntryView, IntegrityEvidence,
    MatchCount, NeverRecorded, SessionUser, TopValues, Volume,
};

/// Entries per page of the table.
pub const PAGE_SIZE: i64 = 100;
/// Above this many matches the quick count stops ("10,000+") and the exact count follows.
pub const COUNT_CAP: i64 = 10_000;

#[cfg(feature = "ssr")]
pub(crate) async fn session_user() -> Result<SessionUser, ConsoleError> {
    leptos_axum::extract::<axum::Extension<SessionUser>>()
        .await
        .map(|axum::Extension(user)| user)
        .map_err(|_| ConsoleError::SignedOut)
}

/// A refusal answered with its own status (403), not the 500 of a failure.
#[cfg(feature = "ssr")]
pub(crate) fn refused(status: axum::http::StatusCode, error: ConsoleError) -> ConsoleError {
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

/// The admin backend and who calls it, once the caller is known to be an admin.
#[cfg(feature = "ssr")]
pub(crate) async fn admin(
) -> Result<(crate::backend::SharedAdmin, crate::backend::Caller), ConsoleError> {
    let user = session_user().await?;
    if user.role != crate::model::Role::Admin {
        return Err(ConsoleError::AdminOnly);
    }
    admin_backend(user).await
}

/// The admin backend for a caller who may read the log (admins and compliance officers): the
/// Exports and Alerts pages' readings.
#[cfg(feature = "ssr")]
pub(crate) async fn viewer() -> Result<crate::backend::SharedAdmin, ConsoleError> {
    let user = session_user().await?;
    if !user.role.can_read_log() {
        return Err(refused(
            axum::http::StatusCode::FORBIDDEN,
            ConsoleError::NoAccess,
        ));
    }
    admin_backend(user).await.map(|(backend, _)| backend)
}

/// The admin backend and who calls it, for a signed-in `user` whose role was checked (or
/// whose own account is what the call changes).
#[cfg(feature = "ssr")]
pub(crate) async fn admin_backend(
    user: SessionUser,
) -> Result<(crate::backend::SharedAdmin, crate::backend::Caller), ConsoleError> {
    let facts = leptos_axum::extract::<axum::Extension<crate::backend::ClientFacts>>()
        .await
        .map(|axum::Extension(facts)| facts)
        .unwrap_or_default();
    let backend = use_context::<crate::backend::SharedAdmin>()
        .ok_or_else(|| ConsoleError::Broken("the admin backend is missing".into()))?;
    Ok((
        backend,
        crate::backend::Caller {
            user,
            ip: facts.ip,
            user_agent: facts.user_agent,
        },
    ))
}

/// Who is signed in, for the header.
#[server(input = Json)]
pub async fn whoami() -> Result<SessionUser, ConsoleError> {
    session_user().await
}

/// The site's name (the Settings'), for the top bar, the navigation and the sign-in and
/// invitation pages: anyone may ask.
#[server(input = Json)]
pub async fn site_name() -> Result<String, ConsoleError> {
    let backend = use_context::<crate::backend::SharedAdmin>()
        .ok_or_else(|| ConsoleError::Broken("the admin backend is missing".into()))?;
    backend.settings().await.map(|s| s.site_name)
}

/// The request's session, as the server's guard found it.
#[cfg(feature = "ssr")]
pub(crate) async fn current_session() -> Result<crate::backend::CurrentSession, ConsoleError> {
    leptos_axum::extract::<axum::Extension<crate::backend::CurrentSession>>()
        .await
        .map(|axum::Extension(session)| session)
        .map_err(|_| ConsoleError::SignedOut)
}

/// Sudo mode: a sensitive change (second factor, API key, role, settings) goes ahead only if
/// this session proved its password in the last [`crate::error::SUDO_MINUTES`]; otherwise
/// the page asks for it (`account::confirm_password`) and the user tries again.
#[cfg(feature = "ssr")]
pub(crate) async fn sudo() -> Result<(), ConsoleError> {
    if !current_session().await?.recently_proven {
        return Err(refused(
            axum::http::StatusCode::FORBIDDEN,
            ConsoleError::ConfirmPassword,
        ));
    }
    Ok(())
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
    let Some(entry) = backend.entry(id).await? else {
        return Ok(None);
    };
    let late_after = backend.recorded_late_after();
    let imported = match entry.source {
        Some(crate::model::Source::Key(key)) => backend.imports_history(key).await?,
        _ => false,
    };
    Ok(Some(EntryView::new(entry, late_after, imported)))
}

/// What makes chips readable, in one call: the actors these `user=` values choose ("Name
/// <email>"), when `categories`, the action categories (a whole category is one chip), and
/// the names of these API keys ("Source: API key Billing").
#[server(input = Json)]
pub async fn chip_words(
    users: Vec<String>,
    categories: bool,
    keys: Vec<uuid::Uuid>,
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
            backend
                .action_facets(crate::filter::Filter::default())
                .await?
        } else {
            Vec::new()
        },
        keys: if keys.is_empty() {
            Vec::new()
        } else {
            let keys = keys
                .into_iter()
                .take(crate::filter::MAX_VALUES + 1)
                .collect();
            // One source and at most MAX_VALUES left out.
            backend.key_names(keys).await?
        },
    })
}

/// Whether entries matching `filter` arrived after a listing's `snapshot_seq` (the cue shown
/// while Live is off).
#[server(input = Json)]
pub async fn newer_entries(filter: CanonicalFilter, after_seq: i64) -> Result<bool, ConsoleError> {
    let backend = reader_backend().await?;
    backend.any_after(filter.parse()?, after_seq).await
}

/// Why an empty result may be empty: the filter's values that no entry has ever had.
#[server(input = Json)]
pub async fn values_never_recorded(
    filter: CanonicalFilter,
) -> Result<Vec<NeverRecorded>, ConsoleError> {
    let backend = reader_backend().await?;
    backend.never_recorded(filter.parse()?).await
}

/// The saved searches the signed-in reader may open: their own, then those shared with every
/// reader.
#[server(input = Json)]
pub async fn list_saved_searches() -> Result<Vec<SavedSearch>, ConsoleError> {
    let backend = reader_backend().await?;
    let user = session_user().await?;
    backend.saved_searches(user.id).await
}

/// One saved search (`?view=<id>` in the console URL).
#[server(input = Json)]
pub async fn open_saved_search(id: Uuid) -> Result<SavedSearch, ConsoleError> {
    let backend = reader_backend().await?;
    let user = session_user().await?;
    backend.saved_search(user.id, id).await
}

/// Saves `filter` under `name` for the signed-in reader, shared with every reader or not.
#[server(input = Json)]
pub async fn save_search(
    name: String,
    filter: CanonicalFilter,
    shared: bool,
) -> Result<SavedSearch, ConsoleError> {
    let backend = reader_backend().await?;
    let user = session_user().await?;
    let name = crate::error::saved_search_name(&name).map_err(ConsoleError::SavedSearch)?;
    backend
        .save_search(user.id, name, filter.parse()?, shared)
        .await
}

/// Deletes one of the signed-in reader's own saved searches.
#[server(input = Json)]
pub async fn delete_saved_search(id: Uuid) -> Result<(), ConsoleError> {
    let backend = reader_backend().await?;
    let user = session_user().await?;
    backend.delete_search(user.id, id).await
}

/// Entries over time under `filter`, by status, for the chart above the table.
#[server(input = Json)]
pub async fn volume_over_time(filter: CanonicalFilter) -> Result<Option<Volume>, ConsoleError> {
    let backend = reader_backend().await?;
    backend.volume(filter.parse()?).await
}

/// How many values of each field the "Top values" panel lists.
pub const TOP_VALUES: i64 = 10;

/// The most frequent users, actions, resources and IP addresses under `filter`, exact.
#[server(input = Json)]
pub async fn top_values_under(filter: CanonicalFilter) -> Result<Vec<TopValues>, ConsoleError> {
    let backend = reader_backend().await?;
    backend.top_values(filter.parse()?, TOP_VALUES).await
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

/// Categories and every action recorded, for the action picker, counted under the filter on
/// screen without its actions (`filter`).
#[server(input = Json)]
pub async fn action_facets(filter: CanonicalFilter) -> Result<Vec<ActionCategory>, ConsoleError> {
    let backend = reader_backend().await?;
    let mut others = filter.parse()?;
    others.actions.clear();
    backend.action_facets(others).await
}
