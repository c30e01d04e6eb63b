//! "Two-factor sign-in" on the Account page: set it up (scan the QR code or type the key, then
//! confirm one code: the recovery codes are shown once), or, once on, get new recovery codes
//! or turn it off, each proven by a current code. The server checks every code
//! (`service::two_factor`) and records every change.

use leptos::prelude::*;

use crate::api::account::{
    begin_two_factor, confirm_two_factor, disable_two_factor, my_two_factor, new_recovery_codes,
};
use crate::error::ConsoleError;
use crate::two_factor::{Enrolment, RecoveryCodes};

#[component]
pub fn TwoFactorPanel() -> impl IntoView {
    let changed = RwSignal::new(0u32);
    let status = Resource::new(move || changed.get(), |_| my_two_factor());
    let enrolment = RwSignal::new(None::<Enrolment>);
    let codes = RwSignal::new(None::<RecoveryCodes>);
    let error = RwSignal::new(None::<String>);
    let busy = RwSignal::new(false);
    let code = RwSignal::new(String::new());
    // Runs one call at a time; its refusal is shown under the form.
    let run = move |call: std::pin::Pin<
        Box<dyn std::future::Future<Output = Result<(), ConsoleError>>>,
    >| {
        if busy.get_untracked() {
            return;
        }
        busy.set(true);
        error.set(None);
        leptos::task::spawn_local(async move {
            if let Err(e) = call.await {
                error.set(Some(e.to_string()));
            }
            busy.set(false);
        });
    };
    let set_up = move |_| {
        run(Box::pin(async move {
            enrolment.set(Some(begin_two_factor().await?));
            code.set(String::new());
            Ok(())
        }))
    };
    let confirm = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        run(Box::pin(async move {
            codes.set(Some(confirm_two_factor(code.get_untracked()).await?));
            enrolment.set(None);
            code.set(String::new());
            changed.update(|n| *n += 1);
            Ok(())
        }))
    };
    let regenerate = move |_| {
        run(Box::pin(async move {
            codes.set(Some(new_recovery_codes(code.get_untracked()).await?));
            code.set(String::new());
            changed.update(|n| *n += 1);
            Ok(())
        }))
    };
    let turn_off = move |_| {
        run(Box::pin(async move {
            disable_two_factor(code.get_untracked()).await?;
            code.set(String::new());
            codes.set(None);
            changed.update(|n| *n += 1);
            Ok(())
        }))
    };
    let code_input = move |label: &'static str| {
        view! {
            <label>
                {label}
                <input type="text" inputmode="numeric" autocomplete="one-time-code"
                    data-testid="two-factor-code" maxlength="20" required
                    prop:value=move || code.get()
                    on:input=move |ev| code.set(event_target_value(&ev))/>
            </label>
        }
    };
    view! {
        <section class="account-section" aria-labelledby="two-factor-heading" data-testid="two-factor">
            <h2 id="two-factor-heading">"Two-factor sign-in"</h2>
            <RecoveryCodesOnce codes/>
            <Transition fallback=|| view! { <p class="state-message">"Loading…"</p> }>
                {move || status.get().map(|r| match r {
                    Ok(s) if s.enabled => view! {
                        <p data-testid="two-factor-state">
                            <strong>"On."</strong>
                            " Sign-in asks for your authenticator app's code after your password. "
                            {format!("{} of 10 recovery codes left.", s.recovery_codes_left)}
                            {s.required.then_some(" Your organisation requires it, so it cannot be turned off.")}
                        </p>
                        <form class="key-form" on:submit=|ev| ev.prevent_default()>
                            {code_input("Current code from the app (or a recovery code)")}
                            <div class="form-actions">
                                <button type="button" class="secondary" data-testid="regenerate-codes"
                                    disabled=move || busy.get() on:click=regenerate>"New recovery codes"</button>
                                {(!s.required).then(|| view! {
                                    <button type="button" class="danger" data-testid="disable-two-factor"
                                        disabled=move || busy.get() on:click=turn_off>"Turn off"</button>
                                })}
                            </div>
                        </form>
                    }.into_any(),
                    Ok(s) => match enrolment.get() {
                        Some(e) => view! {
                            <div class="enrolment" data-testid="enrolment">
                                <div class="qr" role="img" aria-label="QR code for your authenticator app"
                                    inner_html=e.qr_svg.clone()></div>
                                <div>
                                    <p>"Scan the code with an authenticator app (1Password, Google \
                                        Authenticator, Aegis…), or type this key into it:"</p>
                                    <p><code class="secret" data-testid="totp-secret">{e.secret.clone()}</code></p>
                                    <form class="key-form" on:submit=confirm>
                                        {code_input("Then type the 6-digit code it shows")}
                                        <div class="form-actions">
                                            <button type="submit" class="primary" data-testid="confirm-two-factor"
                                                disabled=move || busy.get()>"Turn on"</button>
                                            <button type="button" class="secondary"
                                                on:click=move |_| enrolment.set(None)>"Cancel"</button>
                                        </div>
                                    </form>
                                </div>
                            </div>
                        }.into_any(),
                        None => view! {
                            {s.required.then(|| view! {
                                <p class="required-note" role="alert" data-testid="two-factor-required">
                                    "Your organisation requires two-factor sign-in. Set it up to \
                                     continue: until then, this page is all you can open."
                                </p>
                            })}
                            <p data-testid="two-factor-state">
                                <strong>"Off."</strong>
                                " Sign-in asks only for your password. With two-factor sign-in, \
                                 it also asks for a code from an app on your phone."
                            </p>
                            <button type="button" class="primary" data-testid="set-up-two-factor"
                                disabled=move || busy.get() on:click=set_up>"Set up two-factor sign-in"</button>
                        }.into_any(),
                    },
                    Err(e) => view! {
                        <p class="form-error" role="alert">{e.to_string()}</p>
                    }.into_any(),
                })}
            </Transition>
            <p class="form-error" role="alert" data-testid="two-factor-error">{move || error.get()}</p>
        </section>
    }
}

use super::RecoveryCodesOnce;
