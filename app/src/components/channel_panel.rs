//! Where alerts are sent: the channels (a webhook, signed as Standard Webhooks asks, or an
//! email through an SMTP server), each with what it reaches (a webhook's origin only: its URL
//! may carry a token) and whether it is enabled (a receiver that answered `410 Gone` disables
//! it, with the reason); for admins, New channel, Send test and Delete. A new webhook's
//! signing secret is shown once, to give to the receiver.

use leptos::prelude::*;

use crate::alerts::{ChannelSpec, ChannelView};
use crate::api::alerts::{delete_channel, save_channel, test_channel};

#[component]
pub fn ChannelPanel(
    channels: Vec<ChannelView>,
    admin: bool,
    changed: RwSignal<u32>,
    message: RwSignal<Option<String>>,
    /// A new webhook's name and signing secret, shown once (the page's: it outlives this
    /// panel, which is drawn again when the channels are asked again after the save).
    secret: RwSignal<Option<(String, String)>>,
) -> impl IntoView {
    let adding = RwSignal::new(false);
    let rows = channels
        .iter()
        .map(|c| {
            let id = c.id;
            let name = c.name.clone();
            let reaches = match c.kind.as_str() {
                "webhook" => format!(
                    "{} ({})",
                    c.url_origin.clone().unwrap_or_default(),
                    if c.body_format.as_deref() == Some("slack") { "Slack body" } else { "Standard Webhooks" }
                ),
                _ => format!(
                    "{} via {}:{} ({})",
                    c.mail_to.join(", "),
                    c.smtp_host.clone().unwrap_or_default(),
                    c.smtp_port.unwrap_or(0),
                    c.smtp_security.clone().unwrap_or_default()
                ),
            };
            let state = if c.enabled {
                "enabled".to_string()
            } else {
                format!("disabled: {}", c.disabled_reason.clone().unwrap_or_default())
            };
            let test = {
                let name = name.clone();
                move |_| {
                    let name = name.clone();
                    leptos::task::spawn_local(async move {
                        match test_channel(id).await {
                            Ok(_) => {
                                message.set(Some(format!(
                                    "A test notification to “{name}” is queued: see the delivery log."
                                )));
                                changed.update(|n| *n += 1);
                            }
                            Err(e) => message.set(Some(e.to_string())),
                        }
                    });
                }
            };
            let delete = {
                let name = name.clone();
                move |_| {
                    let sure = window()
                        .confirm_with_message(&format!(
                            "Delete the channel “{name}”? Nothing more is sent to it."
                        ))
                        .unwrap_or(false);
                    if sure {
                        leptos::task::spawn_local(async move {
                            match delete_channel(id).await {
                                Ok(()) => changed.update(|n| *n += 1),
                                Err(e) => message.set(Some(e.to_string())),
                            }
                        });
                    }
                }
            };
            view! {
                <tr data-testid="channel-row">
                    <th scope="row">{c.name.clone()}</th>
                    <td>{c.kind.clone()}</td>
                    <td class="channel-reaches">{reaches}</td>
                    <td>{state}</td>
                    {admin.then(|| view! {
                        <td class="row-actions">
                            <button type="button" class="secondary" data-testid="test-channel"
                                aria-label=format!("Send test: {}", c.name)
                                on:click=test>"Send test"</button>
                            <button type="button" class="danger" data-testid="delete-channel"
                                aria-label=format!("Delete: {}", c.name)
                                on:click=delete>"Delete"</button>
                        </td>
                    })}
                </tr>
            }
        })
        .collect_view();
    let empty = channels.is_empty();
    view! {
        {admin.then(|| view! {
            <div class="section-actions">
                <button type="button" class="secondary" data-testid="new-channel"
                    aria-expanded=move || adding.get().to_string()
                    on:click=move |_| adding.update(|a| *a = !*a)>"New channel"</button>
            </div>
        })}
        {move || secret.get().map(|(name, text)| {
            let copy = text.clone();
            view! {
                <section class="secret-once" role="status" data-testid="channel-secret" aria-label="Signing secret">
                    <h3>{format!("The signing secret of \u{201c}{name}\u{201d}")}</h3>
                    <p>"Give it to the receiver, which checks each request's webhook-signature with it: it is never shown again."</p>
                    <code class="secret" data-testid="channel-secret-text">{text}</code>
                    <div class="form-actions">
                        <super::CopyButton text=move || copy.clone() label="Copy secret" testid="copy-channel-secret"/>
                        <button type="button" class="secondary" on:click=move |_| secret.set(None)>"Done"</button>
                    </div>
                </section>
            }
        })}
        <Show when=move || adding.get()>
            <ChannelForm done=adding changed secret/>
        </Show>
        {if empty {
            view! { <p class="state-message" data-testid="no-channels">"No channel yet: alerts are recorded in the log, and sent nowhere."</p> }.into_any()
        } else {
            view! {
                <div class="admin-table-wrap">
                    <table class="admin-table channel-table" data-testid="channel-table">
                        <thead>
                            <tr>
                                <th scope="col">"Name"</th>
                                <th scope="col">"Kind"</th>
                                <th scope="col">"Sends to"</th>
                                <th scope="col">"State"</th>
                                {admin.then(|| view! { <th scope="col"><span class="visually-hidden">"Actions"</span></th> })}
                            </tr>
                        </thead>
                        <tbody>{rows}</tbody>
                    </table>
                </div>
            }.into_any()
        }}
    }
}

#[component]
fn ChannelForm(
    done: RwSignal<bool>,
    changed: RwSignal<u32>,
    secret: RwSignal<Option<(String, String)>>,
) -> impl IntoView {
    let name = RwSignal::new(String::new());
    let kind = RwSignal::new("webhook".to_string());
    let url = RwSignal::new(String::new());
    let format = RwSignal::new("standard".to_string());
    let host = RwSignal::new(String::new());
    let port = RwSignal::new(String::new());
    let security = RwSignal::new("starttls".to_string());
    let username = RwSignal::new(String::new());
    let password = RwSignal::new(String::new());
    let from = RwSignal::new(String::new());
    let to = RwSignal::new(String::new());
    let error = RwSignal::new(None::<String>);
    let saving = RwSignal::new(false);
    let save = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let webhook = kind.get_untracked() == "webhook";
        let text = |s: RwSignal<String>| Some(s.get_untracked()).filter(|v| !v.trim().is_empty());
        let spec = ChannelSpec {
            name: name.get_untracked(),
            kind: kind.get_untracked(),
            url: if webhook { text(url) } else { None },
            body_format: webhook.then(|| format.get_untracked()),
            smtp_host: if webhook { None } else { text(host) },
            // Not a number: 0, which the server refuses saying what it takes.
            smtp_port: if webhook {
                None
            } else {
                text(port).map(|p| p.trim().parse().unwrap_or(0))
            },
            smtp_security: (!webhook).then(|| security.get_untracked()),
            smtp_username: if webhook { None } else { text(username) },
            smtp_password: if webhook { None } else { text(password) },
            mail_from: if webhook { None } else { text(from) },
            mail_to: if webhook {
                vec![]
            } else {
                to.get_untracked()
                    .split([',', ' ', '\n'])
                    .map(str::trim)
                    .filter(|a| !a.is_empty())
                    .map(str::to_string)
                    .collect()
            },
            enabled: true,
        };
        saving.set(true);
        leptos::task::spawn_local(async move {
            match save_channel(None, spec).await {
                Ok(made) => {
                    error.set(None);
                    if let Some(s) = made.secret {
                        secret.set(Some((made.channel.name.clone(), s)));
                    }
                    done.set(false);
                    changed.update(|n| *n += 1);
                }
                Err(e) => error.set(Some(e.to_string())),
            }
            saving.set(false);
        });
    };
    let field = move |label: &'static str,
                      testid: &'static str,
                      value: RwSignal<String>,
                      kind_: &'static str,
                      placeholder: &'static str| {
        view! {
            <label>
                <span>{label}</span>
                <input type=kind_ data-testid=testid placeholder=placeholder autocomplete="off"
                    prop:value=move || value.get()
                    on:input=move |ev| value.set(event_target_value(&ev))/>
            </label>
        }
    };
    view! {
        <form class="channel-form admin-form" data-testid="channel-form" on:submit=save
            aria-labelledby="channel-form-title">
            <h3 id="channel-form-title">"New channel"</h3>
            <div class="form-row">
                {field("Name", "channel-name", name, "text", "Security team")}
                <label>
                    <span>"Kind"</span>
                    <select data-testid="channel-kind" on:change=move |ev| kind.set(event_target_value(&ev))>
                        <option value="webhook" selected=move || kind.get() == "webhook">"Webhook"</option>
                        <option value="email" selected=move || kind.get() == "email">"Email"</option>
                    </select>
                </label>
            </div>
            <Show when=move || kind.get() == "webhook">
                <div class="form-row">
                    {field("URL", "channel-url", url, "url", "https://hooks.example.com/trailkeep")}
                    <label>
                        <span>"Body"</span>
                        <select data-testid="channel-format" on:change=move |ev| format.set(event_target_value(&ev))>
                            <option value="standard" selected=move || format.get() == "standard">"Standard Webhooks JSON"</option>
                            <option value="slack" selected=move || format.get() == "slack">"Slack-compatible text"</option>
                        </select>
                    </label>
                </div>
                <small class="muted">
                    "Signed with a secret shown once after saving (webhook-id, webhook-timestamp, \
                     webhook-signature). The URL is stored encrypted; only its origin is shown."
                </small>
            </Show>
            <Show when=move || kind.get() == "email">
                <div class="form-row">
                    {field("SMTP server", "channel-smtp-host", host, "text", "smtp.example.com")}
                    {field("Port", "channel-smtp-port", port, "number", "587")}
                    <label>
                        <span>"Security"</span>
                        <select data-testid="channel-smtp-security" on:change=move |ev| security.set(event_target_value(&ev))>
                            <option value="starttls">"STARTTLS"</option>
                            <option value="tls">"TLS"</option>
                            <option value="plain">"None (a test server)"</option>
                        </select>
                    </label>
                </div>
                <div class="form-row">
                    {field("User name", "channel-smtp-user", username, "text", "")}
                    {field("Password", "channel-smtp-password", password, "password", "")}
                </div>
                <div class="form-row">
                    {field("From", "channel-mail-from", from, "email", "trailkeep@example.com")}
                    {field("To (comma-separated)", "channel-mail-to", to, "text", "security@example.com")}
                </div>
            </Show>
            <p class="form-error" role="alert" data-testid="channel-error">{move || error.get()}</p>
            <div class="form-actions">
                <button type="submit" class="primary" data-testid="channel-save"
                    disabled=move || saving.get()>"Save channel"</button>
                <button type="button" class="secondary" on:click=move |_| done.set(false)>"Cancel"</button>
            </div>
        </form>
    }
}
