//! The frame of every console page: a top bar with the site's name and the menu button, and
//! the left navigation with the pages the signed-in role may use (the current one marked
//! `aria-current`), and at its foot who is signed in and Sign out. The navigation collapses
//! (the menu button); at 900 px and below it is folded away until the menu button opens it.
//! A page that is not built yet has no item: no dead links. What a role may not use is hidden
//! here and refused by the server anyway.

use leptos::prelude::*;
use leptos_router::hooks::use_location;

use crate::error::ConsoleError;
use crate::model::{Role, SessionUser};

/// The site's name until the server has said it (the Settings page changes it).
pub const SITE_NAME: &str = "Trailkeep";

/// The site's name as the Settings say it, for the pages outside the console's frame too.
pub fn site_name_resource() -> Resource<String> {
    Resource::new(
        || (),
        |_| async {
            crate::api::site_name()
                .await
                .unwrap_or_else(|_| SITE_NAME.to_string())
        },
    )
}

/// One item of the navigation: where it leads, what it says, who sees it.
struct NavItem {
    href: &'static str,
    label: &'static str,
    allowed: fn(Role) -> bool,
}

/// Every page of the console, in the navigation's order.
const NAV: &[NavItem] = &[
    NavItem {
        href: "/audit",
        label: "Audit Log",
        allowed: Role::can_read_log,
    },
    NavItem {
        href: "/exports",
        label: "Exports",
        allowed: Role::can_read_log,
    },
    NavItem {
        href: "/alerts",
        label: "Alerts",
        allowed: Role::can_read_log,
    },
    NavItem {
        href: "/users",
        label: "Users",
        allowed: |role| matches!(role, Role::Admin | Role::Compliance),
    },
    NavItem {
        href: "/keys",
        label: "API keys",
        allowed: |role| role == Role::Admin,
    },
    NavItem {
        href: "/settings",
        label: "Settings",
        allowed: |role| role == Role::Admin,
    },
    NavItem {
        href: "/account",
        label: "Account",
        allowed: |_| true,
    },
];

/// `user` is the page's own `whoami` resource: one lookup per page, for the navigation and the
/// page's role check alike.
#[component]
pub fn ConsoleLayout(
    user: Resource<Result<SessionUser, ConsoleError>>,
    children: Children,
) -> impl IntoView {
    let path = use_location().pathname;
    let site = site_name_resource();
    let site_name = move || site.get().unwrap_or_else(|| SITE_NAME.to_string());
    // `None`: as the width says (shown when wide, folded when narrow); `Some`: as asked, at
    // any width.
    let asked = RwSignal::new(None::<bool>);
    // Whether the width shows it, read from the page (server-rendered: shown).
    let by_width = RwSignal::new(true);
    let shown = Memo::new(move |_| asked.get().unwrap_or_else(|| by_width.get()));
    let nav_ref = NodeRef::<leptos::html::Nav>::new();
    let measure = move || {
        if asked.get_untracked().is_none() {
            if let Some(nav) = nav_ref.get_untracked() {
                // Folded away (`display: none`) it has no width.
                by_width.set(nav.offset_width() > 0);
            }
        }
    };
    Effect::new(move |_| {
        if nav_ref.get().is_some() {
            measure();
        }
    });
    let resize = window_event_listener(leptos::ev::resize, move |_| measure());
    on_cleanup(move || resize.remove());
    let toggle = move |_| asked.set(Some(!shown.get_untracked()));
    let state = move || match asked.get() {
        None => "auto",
        Some(true) => "open",
        Some(false) => "closed",
    };
    view! {
        <div class="console" data-nav=state>
            <header class="topbar">
                <button type="button" class="menu-button" data-testid="menu-button"
                    aria-controls="sidenav" aria-expanded=move || shown.get().to_string()
                    on:click=toggle>
                    <span aria-hidden="true">"☰"</span>
                    <span class="visually-hidden">"Navigation"</span>
                </button>
                <a class="brand" href="/audit" data-testid="site-name">
                    <Transition fallback=|| SITE_NAME>{site_name}</Transition>
                </a>
            </header>
            <nav class="sidenav" id="sidenav" aria-label="Main" node_ref=nav_ref
                data-testid="sidenav">
                <ul class="nav-items">
                    <Transition fallback=|| ()>
                        {move || user.get().and_then(Result::ok).map(|u| {
                            NAV.iter()
                                .filter(|item| (item.allowed)(u.role))
                                .map(|item| {
                                    let href = item.href;
                                    let current = move || {
                                        path.with(|p| p == href || p.starts_with(&format!("{href}/")))
                                            .then_some("page")
                                    };
                                    view! {
                                        <li><a href=href aria-current=current>{item.label}</a></li>
                                    }
                                })
                                .collect_view()
                        })}
                    </Transition>
                </ul>
                <div class="nav-foot">
                    <Transition fallback=|| ()>
                        {move || user.get().and_then(Result::ok).map(|u| view! {
                            <div class="nav-user" data-testid="nav-user">
                                <span class="user-name" title=u.email.clone()>{u.name.clone()}</span>
                                <span class="role-badge">{u.role.as_str()}</span>
                            </div>
                        })}
                    </Transition>
                    <span class="nav-site"><Transition fallback=|| SITE_NAME>{site_name}</Transition></span>
                    <form method="post" action="/logout">
                        <button type="submit" class="link-button">"Sign out"</button>
                    </form>
                </div>
            </nav>
            <main class="content">{children()}</main>
            <super::SessionEndedNotice/>
            <super::SudoDialog/>
        </div>
    }
}
