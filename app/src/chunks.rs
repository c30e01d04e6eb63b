//! Parts of the console whose code is a WASM chunk of its own, fetched on first use (split by
//! `cargo leptos build --split`): the picker panels, the export dialog, the entry detail and
//! the live socket. The page itself loads and hydrates without them.
//!
//! Each part's frame (the picker's dropdown, the dialog, the side panel) stays in the page;
//! only what fills it is in the chunk, so a notice appears where the part would have been.
//!
//! A split function is declared with
//! `#[wasm_split_helpers::wasm_split(<chunk name>, fallible)]` and returns a [`Chunk`]. A
//! chunk that cannot be fetched (the server is unreachable, or was updated since the page was
//! opened and no longer serves this build's chunks) is a notice with a Reload button, never a
//! crash of the whole page. A failed fetch is not remembered: reopening the dialog or the
//! detail panel, or turning live mode on again, fetches anew.

use std::{future::Future, pin::Pin};

use leptos::prelude::*;

/// The code of a part of the console could not be fetched.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ChunkUnavailable;

impl From<wasm_split_helpers::SplitLoaderError> for ChunkUnavailable {
    fn from(_: wasm_split_helpers::SplitLoaderError) -> Self {
        ChunkUnavailable
    }
}

/// A part of the console, or why its code is missing.
pub type Chunk<T = AnyView> = Result<T, ChunkUnavailable>;

/// A part whose code is being fetched. Boxed, so that every part shares one instantiation of
/// the code that waits for it and renders it.
pub type Loading = Pin<Box<dyn Future<Output = Chunk> + Send>>;

/// The part once its code has arrived, or a notice in its place.
pub fn when_loaded(part: Loading) -> Suspend<AnyView> {
    Suspend::new(async move { or_notice(part.await) })
}

fn or_notice(part: Chunk) -> AnyView {
    part.unwrap_or_else(|ChunkUnavailable| {
        view! {
            <p class="chunk-notice" role="alert" data-testid="chunk-unavailable">
                "This part of the console could not be loaded: the server is unreachable, or "
                "Trailkeep was updated since this page was opened. "
                <button type="button" class="secondary"
                    on:click=|_| { let _ = window().location().reload(); }>"Reload the page"</button>
            </p>
        }
        .into_any()
    })
}
