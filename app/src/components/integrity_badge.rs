//! The integrity badge on the audit log page, and an entry's proof status in the detail panel:
//! "verified in your browser". The browser fetches the latest signed checkpoint and the
//! inclusion proofs of the entries in view, and checks them itself (`crate::integrity`, in a
//! WASM chunk of its own, fetched after the page is interactive: first render and scrolling
//! never wait for it) against the verifier key it pinned: the key this browser saw first
//! (kept in `localStorage`), so a server that later shows another key, or a checkpoint or proof
//! it did not sign, turns the badge red, with why; so does a server whose signer refuses to sign
//! a tree that does not extend the latest checkpoint (the latest one still verifies, but the log
//! no longer extends it).

use chrono::{DateTime, Utc};
use leptos::prelude::*;

use crate::api::integrity_check;
use crate::chunks::Chunk;
use crate::hydration::Hydrated;
use crate::integrity::{hash_from_hex, Check, Finding, ProvenLeaf};

/// Where the browser keeps the verifier key it pinned.
pub const PINNED_KEY: &str = "trailkeep.verifier_key";

/// What the browser found.
#[derive(Clone, Debug, PartialEq)]
pub enum Integrity {
    Checking,
    /// The checkpoint verifies with the pinned key and every proof asked for leads to its root.
    Verified {
        size: u64,
        /// The pinned key's name and id (`origin+id`), as `trailkeep key-info` prints them.
        key: String,
        signed_at: DateTime<Utc>,
        /// The entries (by seq) proven, and those newer than the checkpoint.
        proven: Vec<i64>,
        newer: usize,
    },
    /// No checkpoint is signed yet (a new log).
    NoneYet,
    /// A check failed: which, where, and why.
    Failed(Finding),
    /// The evidence could not be fetched or checked (the network, the verifier's chunk).
    Unavailable(String),
}

/// Checks `entries` (seq, leaf hash as shown): fetches the evidence, pins the server's key on
/// first use, and verifies in the integrity chunk.
pub async fn check(entries: Vec<(i64, String)>) -> Integrity {
    let seqs: Vec<i64> = entries.iter().map(|(seq, _)| *seq).collect();
    let evidence = match integrity_check(seqs).await {
        Ok(Some(e)) => e,
        Ok(None) => return Integrity::NoneYet,
        Err(e) => {
            return Integrity::Unavailable(format!("the checkpoint could not be fetched: {e}"))
        }
    };
    let Some(key) = pinned_key(evidence.server_key.as_deref()) else {
        return Integrity::Failed(Finding::new(
            Check::Signature,
            "no verifier key is pinned in this browser",
        ));
    };
    let mut leaves = Vec::new();
    let mut newer = 0;
    for (seq, leaf_hash) in entries {
        match evidence.proofs.iter().find(|(s, _)| *s == seq) {
            Some((_, proof)) => match hash_from_hex(&leaf_hash) {
                Some(leaf_hash) => leaves.push(ProvenLeaf {
                    seq,
                    leaf_hash,
                    proof: proof.clone(),
                }),
                None => {
                    return Integrity::Failed(
                        Finding::new(Check::LeafHash, "the entry's leaf hash is not a hash")
                            .seq(seq),
                    )
                }
            },
            None if seq >= evidence.size => newer += 1,
            None => {
                return Integrity::Failed(
                    Finding::new(Check::Inclusion, "the server gave no proof").seq(seq),
                )
            }
        }
    }
    let proven = leaves.iter().map(|l| l.seq).collect();
    let key_label = key_label(&key);
    match verify(key, evidence.note, leaves).await {
        Ok(Ok(_)) if evidence.refused.is_some() => {
            let mut finding = evidence.refused.expect("checked above");
            finding.detail = format!(
                "the server refuses to sign new checkpoints: {}",
                finding.detail
            );
            Integrity::Failed(finding)
        }
        Ok(Ok(size)) => Integrity::Verified {
            size,
            key: key_label,
            signed_at: evidence.signed_at,
            proven,
            newer,
        },
        Ok(Err(why)) => Integrity::Failed(why),
        Err(_) => {
            Integrity::Unavailable("the verifier could not be loaded; reload the page".into())
        }
    }
}

#[wasm_split_helpers::wasm_split(integrity, fallible)]
fn verify(key: String, note: String, leaves: Vec<ProvenLeaf>) -> Chunk<Result<u64, Finding>> {
    Ok(crate::integrity::check_view(&key, &note, &leaves).map(|cp| cp.size))
}

/// The key this browser pinned, or `server`'s, pinned now (trust on first use).
fn pinned_key(server: Option<&str>) -> Option<String> {
    let storage = window().local_storage().ok().flatten();
    if let Some(key) = storage
        .as_ref()
        .and_then(|s| s.get_item(PINNED_KEY).ok().flatten())
    {
        return Some(key);
    }
    let key = server?.to_string();
    if let Some(s) = storage {
        let _ = s.set_item(PINNED_KEY, &key);
    }
    Some(key)
}

/// A verifier key's name and id (`origin+1a2b3c4d`): what someone compares with the line
/// `trailkeep key-info` prints on the server (a key's name never holds `+`).
fn key_label(key: &str) -> String {
    key.splitn(3, '+').take(2).collect::<Vec<_>>().join("+")
}

/// A finding in the badge's words: what failed (the check's title), where, and why.
fn finding_words(finding: &Finding) -> String {
    let at = finding.at.map(|p| format!("{p}: ")).unwrap_or_default();
    format!("{} — {at}{}", finding.check.title(), finding.detail)
}

/// `12 s`, `4 min`, `3 h`, `2 days`.
fn age_words(seconds: i64) -> String {
    match seconds.max(0) {
        s @ 0..=119 => format!("{s} s"),
        s @ 120..=7199 => format!("{} min", s / 60),
        s @ 7200..=172_799 => format!("{} h", s / 3600),
        s => format!("{} days", s / 86_400),
    }
}

#[cfg(feature = "hydrate")]
fn now() -> DateTime<Utc> {
    DateTime::from_timestamp_millis(js_sys::Date::now() as i64).unwrap_or_default()
}

/// How often the badge asks again by itself: new checkpoints prove the newest entries, and
/// Live brings more (it never shows a stale "newer than it").
#[cfg_attr(not(feature = "hydrate"), allow(dead_code))]
const RECHECK: std::time::Duration = std::time::Duration::from_secs(10);

/// The badge: checks the entries in view each time they change, once the page is interactive,
/// and again every [`RECHECK`] (quietly: the badge keeps what it says until the new answer).
/// Its age ticks each second. "What does this mean?" explains checkpoints and proofs and offers
/// the checkpoint, the verifier key and how an auditor verifies.
#[component]
pub fn IntegrityBadge(
    /// The entries in view: seq and leaf hash as shown.
    #[prop(into)]
    entries: Signal<Vec<(i64, String)>>,
) -> impl IntoView {
    let Hydrated(hydrated) = expect_context::<Hydrated>();
    let state = RwSignal::new(Integrity::Checking);
    let run = RwSignal::new(0u32);
    let again = RwSignal::new(0u32);
    // The browser's clock (set once interactive: the server renders the badge "Checking…").
    let clock = RwSignal::new(DateTime::<Utc>::default());
    Effect::new(move |before: Option<Vec<(i64, String)>>| {
        let entries = entries.get();
        again.track();
        if !hydrated.get() {
            return entries;
        }
        let this = run.get_untracked() + 1;
        run.set(this);
        // Only new entries in view say "Checking…"; a periodic check keeps the last answer.
        if before.as_ref() != Some(&entries) {
            state.set(Integrity::Checking);
        }
        let asked = entries.clone();
        leptos::task::spawn_local(async move {
            let found = check(asked).await;
            // A newer check (the entries in view changed) wins.
            if run.get_untracked() == this {
                state.set(found);
            }
        });
        entries
    });
    #[cfg(feature = "hydrate")]
    {
        clock.set(now());
        let ticking =
            set_interval_with_handle(move || clock.set(now()), std::time::Duration::from_secs(1))
                .ok();
        let rechecking = set_interval_with_handle(move || again.update(|n| *n += 1), RECHECK).ok();
        on_cleanup(move || {
            for handle in [ticking, rechecking].into_iter().flatten() {
                handle.clear();
            }
        });
    }
    let kind = move || match state.get() {
        Integrity::Checking => "checking",
        Integrity::Verified { .. } => "verified",
        Integrity::NoneYet => "none",
        Integrity::Failed(_) => "failed",
        // Not reaching the server says nothing about the log: grey, not red.
        Integrity::Unavailable(_) => "unavailable",
    };
    view! {
        <div class="integrity-badge" data-testid="integrity-badge" data-state=kind
            role="status" aria-live="polite">
            {move || match state.get() {
                Integrity::Checking => view! {
                    <span class="integrity-title">"Checking integrity…"</span>
                }.into_any(),
                Integrity::Verified { size, key, signed_at, proven, newer } => {
                    let said = match (proven.len(), newer) {
                        (_, 0) => "Every entry on this page is in the log's signed record".to_string(),
                        (0, n) => format!("The {n} entries on this page are newer than the signed record: they join it at the next checkpoint, within seconds"),
                        (_, n) => format!("Every entry on this page is in the log's signed record, except the newest {n}, which join it at the next checkpoint"),
                    };
                    let detail = Signal::derive(move || format!(
                        "{said} (checkpoint of {} entries, signed {} ago).",
                        crate::format::thousands(size as i64),
                        age_words((clock.get() - signed_at).num_seconds()),
                    ));
                    view! {
                        <div class="integrity-head">
                            <span class="integrity-title">"✓ Verified in your browser"</span>
                            <IntegrityExplained size key/>
                        </div>
                        // At most two lines (the badge keeps one height whatever it says, so
                        // the toolbar below never moves); the whole sentence is its title.
                        <span class="integrity-detail" data-testid="integrity-detail" title=detail>
                            {detail}
                        </span>
                    }.into_any()
                }
                Integrity::NoneYet => view! {
                    <span class="integrity-title">"No checkpoint signed yet"</span>
                    <span class="integrity-detail">"The first is signed within seconds of the first entry."</span>
                }.into_any(),
                Integrity::Failed(finding) => view! {
                    <span class="integrity-title">"✗ Integrity not verified"</span>
                    <span class="integrity-detail" data-testid="integrity-why"
                        data-check=finding.check.as_str()>
                        {finding_words(&finding)}
                    </span>
                }.into_any(),
                Integrity::Unavailable(why) => {
                    let said = format!(
                        "{why} This says nothing about the log; the badge asks again by itself."
                    );
                    let title = said.clone();
                    view! {
                        <span class="integrity-title">"Couldn't check right now"</span>
                        <span class="integrity-detail" data-testid="integrity-why" title=title>
                            {said}
                        </span>
                    }.into_any()
                }
            }}
        </div>
    }
}

/// "What does this mean?": checkpoints and proofs in two sentences each, and what an auditor
/// takes away: the checkpoint, the verifier key, and how to verify without this server.
#[component]
fn IntegrityExplained(size: u64, key: String) -> impl IntoView {
    let details = NodeRef::<leptos::html::Details>::new();
    let summary = NodeRef::<leptos::html::Summary>::new();
    // It floats over the page: Esc closes it and gives focus back to what opened it.
    let close_on_escape = move |ev: leptos::ev::KeyboardEvent| {
        if ev.key() == "Escape" {
            if let Some(d) = details.get_untracked().filter(|d| d.open()) {
                ev.stop_propagation();
                d.set_open(false);
                if let Some(s) = summary.get_untracked() {
                    let _ = s.focus();
                }
            }
        }
    };
    let pinned = move || {
        window()
            .local_storage()
            .ok()
            .flatten()
            .and_then(|s| s.get_item(PINNED_KEY).ok().flatten())
            .unwrap_or_default()
    };
    view! {
        <details class="integrity-explained" node_ref=details on:keydown=close_on_escape>
            <summary node_ref=summary>"What does this mean?"</summary>
            <div class="integrity-popover" data-testid="integrity-explained">
                <p>
                    <strong>"A checkpoint"</strong>
                    " is the log's signed statement of everything it held at one moment: how many \
                     entries, and one hash (the root of a Merkle tree) that depends on every one of \
                     them. Once signed, no entry it covers can be changed or removed without the \
                     signature failing, whoever runs the server."
                </p>
                <p>
                    <strong>"A proof"</strong>
                    " shows one entry is inside a checkpoint: a short list of hashes leading from the \
                     entry's own hash to the signed root. Your browser recomputed them for every \
                     entry on this page, with the key it pinned (" <code>{key.clone()}</code> ")."
                </p>
                <p class="integrity-hint" data-testid="integrity-key">
                    "Checked against key " <code>{key}</code>
                    ", which this browser pinned: compare it with what "
                    <code>"trailkeep key-info"</code> " prints on the server."
                </p>
                <p class="integrity-actions">
                    <a class="button secondary" href=format!("/api/v1/integrity/checkpoint?size={size}")
                        download=format!("trailkeep-checkpoint-{size}.txt")>"Download the checkpoint"</a>
                    <super::CopyButton text=pinned label="Copy the verifier key" testid="copy-verifier-key"/>
                </p>
                <p class="integrity-how">
                    "How an auditor verifies, on any machine, without this server: export the entries, \
                     keep the checkpoint beside the file, and run "
                    <code>"trailkeep verify-export FILE --key KEY"</code>
                    ". Every hash, proof and the signature are checked again from the file alone."
                </p>
            </div>
        </details>
    }
}

/// One entry's proof status, for the detail panel: checked in the browser when the panel opens.
#[component]
pub fn ProofStatus(seq: i64, leaf_hash: String) -> impl IntoView {
    let state = RwSignal::new(Integrity::Checking);
    let again = RwSignal::new(0u32);
    Effect::new(move |_| {
        again.track();
        let leaf_hash = leaf_hash.clone();
        leptos::task::spawn_local(async move {
            state.set(check(vec![(seq, leaf_hash)]).await);
        });
    });
    // An entry newer than the checkpoint is proven as soon as the next one covers it: asked
    // again every few seconds until then, in place.
    #[cfg(feature = "hydrate")]
    {
        let handle = set_interval_with_handle(
            move || {
                let waiting = matches!(
                    state.get_untracked(),
                    Integrity::Verified { ref proven, .. } if proven.is_empty()
                ) || matches!(state.get_untracked(), Integrity::Unavailable(_));
                if waiting {
                    again.update(|n| *n += 1);
                }
            },
            std::time::Duration::from_secs(3),
        )
        .ok();
        on_cleanup(move || {
            if let Some(h) = handle {
                h.clear();
            }
        });
    }
    view! {
        <dd data-testid="detail-proof" class="proof-status"
            class:failure=move || matches!(state.get(), Integrity::Failed(_))>
            {move || match state.get() {
                Integrity::Checking => "Checking…".to_string(),
                Integrity::Verified { size, proven, .. } if !proven.is_empty() => format!(
                    "✓ In the signed checkpoint of {} entries (proof checked in your browser)",
                    crate::format::thousands(size as i64)
                ),
                Integrity::Verified { size, .. } => format!(
                    "Newer than the latest checkpoint ({} entries): provable once the next is signed",
                    crate::format::thousands(size as i64)
                ),
                Integrity::NoneYet => "No checkpoint signed yet".to_string(),
                Integrity::Failed(finding) => format!("✗ {}", finding_words(&finding)),
                Integrity::Unavailable(why) => format!("Couldn't check right now: {why}"),
            }}
        </dd>
    }
}
