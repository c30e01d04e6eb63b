//! The Settings page's form: the site's name, the sign-in lockout, session lifetime and idle
//! timeout, invitation validity, who must use two-factor sign-in, and the late-record note.
//! Each number shows its bounds; the server checks them again (`Settings::checked`) and
//! records what changed (`settings.updated`). Saving needs a recent password (sudo mode).

use leptos::prelude::*;

use crate::api::settings::save_settings;
use crate::settings::{Bound, Settings, TwoFactorRequirement, NUMBERS, SITE_NAME_MAX};

/// What each number means, under its field.
fn hint(bound: &Bound) -> &'static str {
    match bound.field {
        "lockout_failures" => "Wrong passwords or codes for one account from one address before it is locked there.",
        "lockout_minutes" => "How long a lockout lasts, and the window that counts failures.",
        "session_hours" => "A session ends this long after sign-in, however active. Shortening it applies to open sessions at once.",
        "idle_minutes" => "A session unused this long ends.",
        "invitation_hours" => "How long a new invitation link stays usable.",
        _ => "The entry detail notes an entry recorded this long after it occurred.",
    }
}

#[component]
pub fn SettingsForm(saved: Settings) -> impl IntoView {
    let draft = RwSignal::new(saved.clone());
    let saved = RwSignal::new(saved);
    let error = RwSignal::new(None::<String>);
    let done = RwSignal::new(None::<String>);
    let busy = RwSignal::new(false);
    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        if busy.get_untracked() {
            return;
        }
        busy.set(true);
        error.set(None);
        done.set(None);
        leptos::task::spawn_local(async move {
            match save_settings(draft.get_untracked()).await {
                Ok(now) => {
                    saved.set(now.clone());
                    draft.set(now);
                    done.set(Some(
                        "Saved. Every server applies the new settings within seconds.".into(),
                    ));
                }
                Err(e) => error.set(Some(e.to_string())),
            }
            busy.set(false);
        });
    };
    let number = move |bound: &'static Bound| {
        let id = format!("setting-{}", bound.field.replace('_', "-"));
        let hint_id = format!("{id}-hint");
        view! {
            <div class="setting">
                <label for=id.clone()>{bound.label}</label>
                <div class="setting-input">
                    <input id=id.clone() type="number" inputmode="numeric" data-testid=id.clone()
                        min=bound.min.to_string() max=bound.max.to_string() step="1" required
                        aria-describedby=hint_id.clone()
                        prop:value=move || draft.with(|d| d.number(bound).to_string())
                        on:input=move |ev| {
                            // A value the browser cannot read as a number is sent as 0: the
                            // server's refusal names the field and its bounds.
                            let v = event_target_value(&ev).trim().parse::<u32>().unwrap_or(0);
                            draft.update(|d| d.set_number(bound, v));
                        }/>
                    <span class="unit">{bound.unit}</span>
                </div>
                <p class="field-hint" id=hint_id>
                    {hint(bound)} {format!(" {}–{} {}.", bound.min, bound.max, bound.unit)}
                </p>
            </div>
        }
    };
    let unchanged = move || draft.with(|d| saved.with(|s| d == s));
    view! {
        <form class="key-form settings-form" data-testid="settings-form" novalidate on:submit=submit>
            <div class="setting">
                <label for="setting-site-name">"Site name"</label>
                <input id="setting-site-name" type="text" data-testid="setting-site-name"
                    maxlength=SITE_NAME_MAX.to_string() required autocomplete="organization"
                    aria-describedby="setting-site-name-hint"
                    prop:value=move || draft.with(|d| d.site_name.clone())
                    on:input=move |ev| draft.update(|d| d.site_name = event_target_value(&ev))/>
                <p class="field-hint" id="setting-site-name-hint">
                    "In the top bar, the navigation, authenticator apps and PDF reports."
                </p>
            </div>
            <fieldset class="setting">
                <legend>"Two-factor sign-in"</legend>
                {TwoFactorRequirement::ALL.into_iter().map(|r| view! {
                    <label class="check">
                        <input type="radio" name="require-two-factor" value=r.as_str()
                            data-testid=format!("require-2fa-{}", r.as_str())
                            prop:checked=move || draft.with(|d| d.require_two_factor == r)
                            on:change=move |_| draft.update(|d| d.require_two_factor = r)/>
                        {format!(" {}", r.label())}
                    </label>
                }).collect_view()}
                <p class="field-hint">
                    "Whoever it requires and has not set it up is sent to their Account page \
                     after signing in, and can open nothing else until they have."
                </p>
            </fieldset>
            <h2>"Sign-in"</h2>
            {number(NUMBERS[0])}
            {number(NUMBERS[1])}
            <h2>"Sessions and invitations"</h2>
            {number(NUMBERS[2])}
            {number(NUMBERS[3])}
            {number(NUMBERS[4])}
            <h2>"Audit log"</h2>
            {number(NUMBERS[5])}
            <p class="form-error" role="alert" data-testid="settings-error">{move || error.get()}</p>
            <p class="form-done" role="status" data-testid="settings-done">{move || done.get()}</p>
            <div class="form-actions">
                <button type="submit" class="primary" data-testid="save-settings"
                    disabled=move || busy.get() || unchanged()>"Save settings"</button>
                <button type="button" class="secondary" disabled=unchanged
                    on:click=move |_| { draft.set(saved.get_untracked()); error.set(None); }>"Discard changes"</button>
            </div>
        </form>
    }
}
