//! The frame of every console page: header with the signed-in user, left navigation.

use leptos::prelude::*;

use crate::error::ConsoleError;
use crate::model::SessionUser;

/// `user` is the page's own `whoami` resource: one lookup per page, for the header and the
/// page's role check alike.
#[component]
pub fn ConsoleLayout(
    user: Resource<Result<SessionUser, ConsoleError>>,
    children: Children,
) -> impl IntoView {
    view! {
        <div class="console">
            <header class="topbar">
                <a class="brand" href="/audit">"Trailkeep"</a>
                <div class="topbar-user">
                    <Transition fallback=|| ()>
                        {move || user.get().and_then(Result::ok).map(|u| view! {
                            <span class="user-name" title=u.email.clone()>{u.name.clone()}</span>
                            <span class="role-badge">{u.role.as_str()}</span>
                        })}
                    </Transition>
                    <form method="post" action="/logout">
                        <button type="submit" class="link-button">"Sign out"</button>
                    </form>
                </div>
            </header>
            <nav class="sidenav" aria-label="Main">
                <a href="/audit" aria-current="page">"Audit Log"</a>
            </nav>
            <main class="content">{children()}</main>
            <super::SessionEndedNotice/>
        </div>
    }
}
