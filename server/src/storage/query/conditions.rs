//! The one place a `Filter` becomes SQL conditions. Values are always bound parameters; the
//! SQL text depends only on which filter parts are present.

use app::action::ActionPattern;
use app::filter::{search, Exclusions, Filter, IpBlock, Order, ResourcePattern};
use sqlx::{Postgres, QueryBuilder};

use crate::domain::query::window::Bounds;

/// The column the free-text index is built on: the entry's search text, generated and stored by
/// PostgreSQL (`audit_search_text`, migrations/0014 and 0018).
pub const SEARCH_TEXT: &str = "search_text";

/// `s` as a literal inside a LIKE pattern (`\` is LIKE's escape character).
pub(super) fn like_escape(s: &str) -> String {
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
/// Whether a query of `f` may keep its prepared statement, and with it (after its fifth call)
/// PostgreSQL's generic plan. A search may not: a generic plan estimates `LIKE` with an
/// unknown pattern blindly and scans every partition for it, so a query with search terms is
/// planned with its terms on every call (sqlx: not persistent). Measured at 1,000,000 entries
/// over 13 monthly partitions (BENCHMARKS.md): `q=grace totp` 22.5 ms p50 with the generic
/// plan, 11.1 ms planned each time; pages without a search are faster with theirs.
pub(super) fn reuse_plan(f: &Filter) -> bool {
    f.q.as_deref()
        .map(search::terms)
        .is_none_or(|t| t.is_empty())
}

pub(super) fn push_conditions(qb: &mut QueryBuilder<'_, Postgres>, f: &Filter, b: &Bounds) {
    if !f.users.is_empty() {
        qb.push(" AND ");
        push_any_user(qb, &f.users);
    }
    if !f.actions.is_empty() {
        qb.push(" AND ");
        push_any_action(qb, &f.actions);
    }
    if let Some(from) = b.from {
        qb.push(" AND occurred_at >= ").push_bind(from);
    }
    if let Some(to) = b.to {
        qb.push(" AND occurred_at < ").push_bind(to);
    }
    // Every term of the search (`app::filter::search`) inside the search text, which separates
    // fields with a character no term holds: a term matches inside one field.
    for term in f.q.as_deref().map(search::terms).unwrap_or_default() {
        match identifier_probe(term) {
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
                    .push_bind(term.to_string())
                    .push(")) > 0");
            }
            None => {
                qb.push(" AND ")
                    .push(SEARCH_TEXT)
                    .push(" LIKE ('%' || lower(")
                    .push_bind(like_escape(term))
                    .push(") || '%')");
            }
        }
    }
    if let Some(r) = &f.resource {
        qb.push(" AND ");
        push_any_resource(qb, std::slice::from_ref(r));
    }
    if let Some(status) = f.status {
        qb.push(" AND status = ").push_bind(status.as_str());
    }
    if let Some(source) = f.source {
        qb.push(" AND source = ").push_bind(source.to_string());
    }
    if let Some(ip) = &f.ip {
        // One constant, so the planner turns `<<=` into a range of the ip index.
        qb.push(" AND ip <<= ")
            .push_bind(ip.to_string())
            .push("::inet");
    }
    push_exclusions(qb, &f.exclude);
}

/// ` AND NOT coalesce(<matches any>, false)` for each kind of value left out: a row whose
/// field is NULL (no IP, no resource, no email) is never matched, so never left out.
fn push_exclusions<'a>(qb: &mut QueryBuilder<'a, Postgres>, x: &Exclusions) {
    fn not<'a>(
        qb: &mut QueryBuilder<'a, Postgres>,
        push: impl FnOnce(&mut QueryBuilder<'a, Postgres>),
    ) {
        qb.push(" AND NOT coalesce(");
        push(qb);
        qb.push(", false)");
    }
    if !x.users.is_empty() {
        not(qb, |qb| push_any_user(qb, &x.users));
    }
    if !x.actions.is_empty() {
        not(qb, |qb| push_any_action(qb, &x.actions));
    }
    if !x.resources.is_empty() {
        not(qb, |qb| push_any_resource(qb, &x.resources));
    }
    if !x.ips.is_empty() {
        not(qb, |qb| push_any_ip(qb, &x.ips));
    }
    if !x.sources.is_empty() {
        let sources: Vec<String> = x.sources.iter().map(|s| s.to_string()).collect();
        not(qb, |qb| {
            qb.push("source = ANY(").push_bind(sources).push(")");
        });
    }
}

/// `(…)`: the actor is one of `users` (by id, email in any case, or name).
fn push_any_user(qb: &mut QueryBuilder<'_, Postgres>, users: &[String]) {
    let lower: Vec<String> = users.iter().map(|u| u.to_lowercase()).collect();
    qb.push("(actor_id = ANY(")
        .push_bind(users.to_vec())
        .push(") OR lower(actor_email) = ANY(")
        .push_bind(lower)
        .push(") OR actor_name = ANY(")
        .push_bind(users.to_vec())
        .push("))");
}

/// `(…)`: the action is one of `patterns`.
fn push_any_action(qb: &mut QueryBuilder<'_, Postgres>, patterns: &[ActionPattern]) {
    let mut exact = Vec::new();
    let mut categories = Vec::new();
    let mut prefixes = Vec::new();
    for a in patterns {
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
    qb.push("(");
    for (i, (sql, values)) in parts.into_iter().enumerate() {
        if i > 0 {
            qb.push(" OR ");
        }
        qb.push(sql).push_bind(values).push(")");
    }
    qb.push(")");
}

/// `(…)`: the resource matches one of `patterns`: its type in any case (`lower()` of both, as
/// `ResourcePattern::matches`), its id exactly.
fn push_any_resource(qb: &mut QueryBuilder<'_, Postgres>, patterns: &[ResourcePattern]) {
    qb.push("(");
    for (i, r) in patterns.iter().enumerate() {
        if i > 0 {
            qb.push(" OR ");
        }
        match r {
            ResourcePattern::Exact { kind, id } => {
                qb.push("(resource_id = ")
                    .push_bind(id.clone())
                    .push(" AND lower(resource_type) = lower(")
                    .push_bind(kind.clone())
                    .push("))");
            }
            ResourcePattern::AnyOfType(kind) => {
                qb.push("lower(resource_type) = lower(")
                    .push_bind(kind.clone())
                    .push(")");
            }
            ResourcePattern::AnyType(id) => {
                qb.push("resource_id = ").push_bind(id.clone());
            }
        }
    }
    qb.push(")");
}

/// `(…)`: the address is inside one of `blocks`.
fn push_any_ip(qb: &mut QueryBuilder<'_, Postgres>, blocks: &[IpBlock]) {
    let blocks: Vec<String> = blocks.iter().map(|b| b.to_string()).collect();
    qb.push("ip <<= ANY(").push_bind(blocks).push("::inet[])");
}

pub(super) fn order_by(order: Order) -> &'static str {
    match order {
        Order::Desc => " ORDER BY occurred_at DESC, seq DESC",
        Order::Asc => " ORDER BY occurred_at ASC, seq ASC",
    }
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
