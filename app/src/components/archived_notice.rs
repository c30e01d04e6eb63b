//! Above the table, when the filter's period reaches into months that retention dropped from
//! the database: which months, how many entries, and the archive bundle that holds them — so
//! a listing over an archived period never reads as complete when it is not.

use leptos::prelude::*;

use crate::format::thousands;
use crate::model::ArchivedPart;

#[component]
pub fn ArchivedNotice(parts: Vec<ArchivedPart>) -> impl IntoView {
    (!parts.is_empty()).then(|| {
        let held: i64 = parts.iter().map(|p| p.end_seq - p.first_seq).sum();
        let items = parts
            .into_iter()
            .map(|p| {
                let version = p.version.map(|v| format!(" (version {v})")).unwrap_or_default();
                view! {
                    <li>
                        {format!("{}: {} entries (seqs {} – {}) in ", p.month,
                            thousands(p.end_seq - p.first_seq), p.first_seq, p.end_seq - 1)}
                        <code class="object-location" title=format!("SHA-256 {}", p.sha256)>
                            {p.location}
                        </code>
                        {version}
                    </li>
                }
            })
            .collect_view();
        view! {
            <div class="archived-notice" role="note" data-testid="archived-notice">
                <p>
                    <strong>{format!("{} entries of this period are archived, not listed here.", thousands(held))}</strong>
                    " Retention moved these months to archive bundles after verifying them; "
                    "check a bundle with " <code>"trailkeep verify-export"</code> "."
                </p>
                <ul>{items}</ul>
            </div>
        }
    })
}
