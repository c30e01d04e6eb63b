//! Values of a filter that no entry has ever had (`action=nope.nope`): why a result is empty
//! when the reason is not the combination. Read from the statistics the log's trigger keeps
//! (actors, actions) and the indexes (resource ids, addresses): each question is one index
//! lookup, whatever the log's size.

use app::action::ActionPattern;
use app::filter::{Filter, ResourcePattern};
use app::model::NeverRecorded;
use sqlx::PgPool;

use crate::storage::pools::{acquire, READS};

/// The user, action, resource and IP values of `f` that match no entry of the whole log.
pub async fn never_recorded(pool: &PgPool, f: &Filter) -> Result<Vec<NeverRecorded>, sqlx::Error> {
    let mut conn = acquire(pool, &READS).await?;
    let mut out = Vec::new();
    for u in &f.users {
        let seen: bool = sqlx::query_scalar(
            "SELECT EXISTS (SELECT 1 FROM actor_stats WHERE actor_id = $1 \
             OR lower(actor_email) = lower($1) OR actor_name = $1)",
        )
        .bind(u)
        .fetch_one(&mut *conn)
        .await?;
        if !seen {
            out.push(NeverRecorded::new("user", u));
        }
    }
    for a in &f.actions {
        let seen: bool = match a {
            ActionPattern::Exact(action) => {
                sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM action_stats WHERE action = $1)")
                    .bind(action)
                    .fetch_one(&mut *conn)
                    .await?
            }
            // Segments are [a-z0-9_]: `_` escaped for LIKE.
            ActionPattern::Under(prefix) => {
                sqlx::query_scalar(
                    "SELECT EXISTS (SELECT 1 FROM action_stats WHERE action LIKE $1)",
                )
                .bind(format!("{}.%", prefix.replace('_', "\\_")))
                .fetch_one(&mut *conn)
                .await?
            }
        };
        if !seen {
            out.push(NeverRecorded::new("action", &a.to_string()));
        }
    }
    // A resource with an id: the resource index. A type alone has no index, so is not asked.
    if let Some(r) = &f.resource {
        let id = match r {
            ResourcePattern::Exact { id, .. } | ResourcePattern::AnyType(id) => Some(id),
            ResourcePattern::AnyOfType(_) => None,
        };
        if let Some(id) = id {
            let kinds: Vec<String> = sqlx::query_scalar(
                "SELECT DISTINCT resource_type FROM audit_entries WHERE resource_id = $1 LIMIT 100",
            )
            .bind(id)
            .fetch_all(&mut *conn)
            .await?;
            if !kinds.iter().any(|k| r.matches(Some(k), Some(id))) {
                out.push(NeverRecorded::new("resource", &r.to_string()));
            }
        }
    }
    if let Some(ip) = &f.ip {
        let seen: bool =
            sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM audit_entries WHERE ip <<= $1::inet)")
                .bind(ip.to_string())
                .fetch_one(&mut *conn)
                .await?;
        if !seen {
            out.push(NeverRecorded::new("IP", &ip.to_string()));
        }
    }
    Ok(out)
}
