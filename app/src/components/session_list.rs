//! "Sessions" on the Account page: every browser signed in to the caller's account (opened,
//! last used, address, browser), this one marked; any other can be ended at once (its live
//! sockets close too), recorded as `session.revoked`.

use leptos::prelude::*;

use crate::api::account::{end_session, my_sessions};
use crate::format::minutes_utc;

#[component]
pub fn SessionList() -> impl IntoView {
    let changed = RwSignal::new(0u32);
    let sessions = Resource::new(move || changed.get(), |_| my_sessions());
    let error = RwSignal::new(None::<String>);
    let busy = RwSignal::new(false);
    let end = move |id: uuid::Uuid| {
        if busy.get_untracked() {
            return;
        }
        busy.set(true);
        error.set(None);
        leptos::task::spawn_local(async move {
            if let Err(e) = end_session(id).await {
                error.set(Some(e.to_string()));
            }
            changed.update(|n| *n += 1);
            busy.set(false);
        });
    };
    view! {
        <section class="account-section" aria-labelledby="sessions-heading" data-testid="sessions">
            <h2 id="sessions-heading">"Sessions"</h2>
            <p class="section-hint">"Where your account is signed in. End any session you do not recognise, then change your password."</p>
            <Transition fallback=|| view! { <p class="state-message">"Loading…"</p> }>
                {move || sessions.get().map(|r| match r {
                    Ok(list) => view! {
                        <div class="admin-table-wrap">
                        <table class="admin-table" data-testid="session-table">
                            <thead>
                                <tr>
                                    <th scope="col">"Browser"</th>
                                    <th scope="col">"Address"</th>
                                    <th scope="col">"Signed in (UTC)"</th>
                                    <th scope="col">"Last used (UTC)"</th>
                                    <th scope="col"><span class="visually-hidden">"Action"</span></th>
                                </tr>
                            </thead>
                            <tbody>
                                {list.into_iter().map(|s| {
                                    let id = s.id;
                                    let agent = s.user_agent.clone().unwrap_or_else(|| "Unknown".into());
                                    view! {
                                        <tr data-testid="session-row" data-current=s.current.to_string()>
                                            <td class="user-agent" title=agent.clone()>{browser_words(&agent)}</td>
                                            <td>{s.ip.clone().unwrap_or_else(|| "—".into())}</td>
                                            <td>{minutes_utc(&s.created_at)}</td>
                                            <td>{minutes_utc(&s.last_seen_at)}</td>
                                            <td>
                                                {if s.current {
                                                    view! { <span class="role-badge">"This browser"</span> }.into_any()
                                                } else {
                                                    view! {
                                                        <button type="button" class="danger" data-testid="end-session"
                                                            disabled=move || busy.get() on:click=move |_| end(id)>"End"</button>
                                                    }.into_any()
                                                }}
                                            </td>
                                        </tr>
                                    }
                                }).collect_view()}
                            </tbody>
                        </table>
                        </div>
                    }.into_any(),
                    Err(e) => view! { <p class="form-error" role="alert">{e.to_string()}</p> }.into_any(),
                })}
            </Transition>
            <p class="form-error" role="alert" data-testid="session-error">{move || error.get()}</p>
        </section>
    }
}

/// A user agent in a few words ("Chrome on Linux"), the whole string in the cell's title.
fn browser_words(agent: &str) -> String {
    let browser = [
        ("Edg/", "Edge"),
        ("Firefox/", "Firefox"),
        ("Chrome/", "Chrome"),
        ("Safari/", "Safari"),
        ("curl/", "curl"),
    ]
    .into_iter()
    .find(|(token, _)| agent.contains(token))
    .map(|(_, name)| name);
    let system = [
        ("Windows", "Windows"),
        ("Android", "Android"),
        ("iPhone", "iOS"),
        ("Mac OS", "macOS"),
        ("Linux", "Linux"),
    ]
    .into_iter()
    .find(|(token, _)| agent.contains(token))
    .map(|(_, name)| name);
    match (browser, system) {
        (Some(b), Some(s)) => format!("{b} on {s}"),
        (Some(b), None) => b.to_string(),
        (None, Some(s)) => format!("A browser on {s}"),
        (None, None) => agent.chars().take(40).collect(),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn browsers_in_words() {
        assert_eq!(
            super::browser_words("Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) HeadlessChrome/131.0.0.0 Safari/537.36"),
            "Chrome on Linux"
        );
        assert_eq!(super::browser_words("curl/8.5.0"), "curl");
        assert_eq!(super::browser_words("Unknown"), "Unknown");
    }
}
