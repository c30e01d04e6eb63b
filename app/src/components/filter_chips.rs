//! The active filters as removable chips, plus "Clear all".

use leptos::prelude::*;

use crate::console_state::ConsoleNav;
use crate::filter::{Filter, Order, TimeBound, TimeWindow};
use crate::time_zone::{date_string, minutes_string};

/// One chip: what it says and the filter without it.
#[derive(Clone, Debug, PartialEq)]
pub struct Chip {
    pub label: String,
    pub without: Filter,
}

fn bound_label(b: &TimeBound) -> String {
    match b {
        TimeBound::Date(d) => date_string(*d),
        TimeBound::Instant(t) => format!("{} UTC", minutes_string(t.naive_utc(), ' ')),
    }
}

/// The chips of a filter, in the order of the filter bar.
pub fn chips(f: &Filter) -> Vec<Chip> {
    let mut out = Vec::new();
    let mut push = |label: String, change: &dyn Fn(&mut Filter)| {
        let mut without = f.clone();
        change(&mut without);
        out.push(Chip { label, without });
    };
    if let Some(q) = &f.q {
        push(format!("Search: \"{q}\""), &|g| g.q = None);
    }
    for u in &f.users {
        push(format!("User: {u}"), &|g| g.users.retain(|x| x != u));
    }
    for a in &f.actions {
        push(format!("Action: {a}"), &|g| g.actions.retain(|x| x != a));
    }
    match &f.time {
        TimeWindow::All => {}
        TimeWindow::Last(r) => push(r.label().to_string(), &|g| g.time = TimeWindow::All),
        TimeWindow::Between { from, to } => {
            let label = match (from, to) {
                (Some(a), Some(b)) => format!("{} → {}", bound_label(a), bound_label(b)),
                (Some(a), None) => format!("From {}", bound_label(a)),
                (None, Some(b)) => format!("Until {}", bound_label(b)),
                (None, None) => "Any time".to_string(),
            };
            push(label, &|g| g.time = TimeWindow::All);
        }
    }
    if let Some(s) = f.status {
        push(format!("Status: {}", s.as_str()), &|g| g.status = None);
    }
    if let Some(r) = &f.resource {
        push(format!("Resource: {r}"), &|g| g.resource = None);
    }
    if let Some(ip) = &f.ip {
        push(format!("IP: {ip}"), &|g| g.ip = None);
    }
    if f.order == Order::Asc {
        push("Oldest first".to_string(), &|g| g.order = Order::Desc);
    }
    out
}

/// The filter with everything cleared but the time-zone choice (a display preference).
pub fn cleared(f: &Filter) -> Filter {
    Filter {
        tz: f.tz.clone(),
        ..Filter::default()
    }
}

#[component]
pub fn FilterChips() -> impl IntoView {
    let nav = expect_context::<ConsoleNav>();
    let list = Memo::new(move |_| chips(&nav.filter()));
    view! {
        <Show when=move || list.with(|l| !l.is_empty())>
            <div class="filter-chips" aria-label="Active filters" role="group">
                <ul>
                    <For each=move || list.get() key=|c| c.label.clone() let:chip>
                        <li class="chip">
                            <span>{chip.label.clone()}</span>
                            <button
                                type="button"
                                class="chip-remove"
                                aria-label=format!("Remove filter {}", chip.label)
                                on:click=move |_| nav.set_filter(chip.without.clone(), false)
                            >
                                "×"
                            </button>
                        </li>
                    </For>
                </ul>
                <button
                    type="button"
                    class="link-button"
                    data-testid="clear-all"
                    on:click=move |_| nav.set_filter(cleared(&nav.filter_untracked()), false)
                >
                    "Clear all"
                </button>
            </div>
        </Show>
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_chip_removes_exactly_its_value() {
        let f = Filter::parse(
            "action=config.*&action=user.login&order=asc&q=deploy&range=7d&status=failure&tz=Europe/Berlin&user=a@b.c",
        )
        .unwrap();
        let cs = chips(&f);
        let labels: Vec<&str> = cs.iter().map(|c| c.label.as_str()).collect();
        assert_eq!(
            labels,
            [
                "Search: \"deploy\"",
                "User: a@b.c",
                "Action: user.login",
                "Action: config.*",
                "Last 7 days",
                "Status: failure",
                "Oldest first"
            ]
        );
        assert_eq!(
            cs[3].without.to_query_string(),
            "action=user.login&order=asc&q=deploy&range=7d&status=failure&tz=Europe/Berlin&user=a@b.c"
        );
        assert_eq!(cleared(&f).to_query_string(), "tz=Europe/Berlin");
    }
}
