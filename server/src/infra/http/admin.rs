//! The admin pages' server functions reach the store through [`app::backend::AdminBackend`]:
//! this is its PostgreSQL implementation, on the writing pool (each change commits with the
//! entry that records it, `service::keys`). Errors become [`ConsoleError`]s here, logged with
//! why; a refusal keeps its words.

use app::account::SessionView;
use app::alerts::{
    AlertRuleSpec, AlertRuleView, AlertView, ChannelSpec, ChannelView, CreatedChannel,
    DeliveryView, RulePreview,
};
use app::backend::{AdminBackend, BackendResult, BoxFuture, Caller};
use app::backend::{ClientFacts, CurrentSession};
use app::error::ConsoleError;
use app::exports::{
    ArchiveMonth, ExportRun, ExportSchedule, RetentionPolicy, RetentionSpec, ScheduleRefusal,
    ScheduleSpec,
};
use app::invitations::{Invitation, InvitationFor, NewInvitation};
use app::keys::{ApiKey, NewSecret, Scope};
use app::model::Role;
use app::settings::Settings;
use app::two_factor::{Enrolment, RecoveryCodes, TwoFactorRefusal, TwoFactorStatus};
use app::users::UserView;
use chrono::Utc;
use sqlx::PgPool;
use uuid::Uuid;

use crate::service::accounts::Acting;
use crate::service::alerts::channels::{self as alert_channels, ChannelError};
use crate::service::alerts::deliveries as alert_deliveries;
use crate::service::alerts::rules::{self as alert_rules, RuleError};
use crate::service::invitations::{self, InviteError};
use crate::service::keys::{self, KeyError, KeySpec};
use crate::service::schedules::{self, ScheduleError};
use crate::service::settings::{self, SettingsCache, SettingsError};
use crate::service::two_factor::{self, TwoFactorError};
use crate::service::users::{self, UserError};
use crate::storage::exports;

pub struct PgAdmin {
    pub pool: PgPool,
    /// Seals second factors' seeds (none: a server without the log's key file refuses to
    /// enrol anyone).
    pub totp_seal: Option<crate::domain::sealed::SealKey>,
    /// Seals export destinations' credentials (none: S3 destinations are refused).
    pub export_seal: Option<crate::domain::sealed::SealKey>,
    /// The Settings page's values: the site's name (in authenticator apps), the invitations'
    /// validity, the lockout.
    pub settings: std::sync::Arc<SettingsCache>,
    /// The sign-in limits the settings do not set (the per-address one), which wrong current
    /// passwords and codes count toward.
    pub sign_in: crate::service::accounts::SignInLimits,
    /// What the Alerts page needs besides the pool.
    pub alerting: Alerting,
}

/// What the Alerts page needs: the reading pool (previews), the key that seals channels'
/// secrets (none: channels cannot be made), the outbound guard (a channel's address is
/// checked as it is given), and the console's public address (alerts' links).
pub struct Alerting {
    pub reads: PgPool,
    pub seal: Option<crate::domain::sealed::SealKey>,
    pub outbound: crate::domain::outbound::Policy,
    pub public_url: Option<String>,
}

fn two_factor_failed(e: TwoFactorError) -> ConsoleError {
    match e {
        TwoFactorError::Refused(r) => ConsoleError::TwoFactor(r),
        TwoFactorError::Db(e) => {
            tracing::error!(error = %e, "database error");
            ConsoleError::Unavailable
        }
    }
}

impl PgAdmin {
    /// The settings in force (read again every few seconds).
    async fn current(&self) -> BackendResult<Settings> {
        self.settings.current().await.map_err(|e| {
            tracing::error!(error = %e, "database error");
            ConsoleError::Unavailable
        })
    }

    /// The sign-in limits under the settings in force.
    async fn limits(&self) -> BackendResult<crate::service::accounts::SignInLimits> {
        Ok(settings::sign_in_limits(
            &self.current().await?,
            self.sign_in,
        ))
    }

    fn seal(&self) -> BackendResult<&crate::domain::sealed::SealKey> {
        self.totp_seal
            .as_ref()
            .ok_or(ConsoleError::TwoFactor(TwoFactorRefusal::NoKey))
    }
}

fn failed(e: KeyError) -> ConsoleError {
    match e {
        KeyError::Refused(r) => ConsoleError::Key(r),
        KeyError::Db(e) => {
            tracing::error!(error = %e, "database error");
            ConsoleError::Unavailable
        }
    }
}

fn user_failed(e: UserError) -> ConsoleError {
    match e {
        UserError::Refused(r) => ConsoleError::User(r),
        UserError::Db(e) => {
            tracing::error!(error = %e, "database error");
            ConsoleError::Unavailable
        }
    }
}

fn invite_failed(e: InviteError) -> ConsoleError {
    match e {
        InviteError::Refused(r) => ConsoleError::Invite(r),
        InviteError::Db(e) => {
            tracing::error!(error = %e, "database error");
            ConsoleError::Unavailable
        }
    }
}

fn acting(by: &Caller) -> Acting {
    Acting::user(&by.user, by.ip, by.user_agent.clone())
}

impl AdminBackend for PgAdmin {
    fn keys(&self) -> BoxFuture<'_, BackendResult<Vec<ApiKey>>> {
        Box::pin(async move { keys::list(&self.pool).await.map_err(|e| failed(e.into())) })
    }

    fn create_key(
        &self,
        by: Caller,
        name: String,
        scopes: Vec<Scope>,
        expires_in_days: Option<u32>,
    ) -> BoxFuture<'_, BackendResult<NewSecret>> {
        Box::pin(async move {
            let spec = KeySpec {
                name: &name,
                scopes: &scopes,
                expires_in_days,
            };
            let (key, secret) = keys::create(&self.pool, spec, &acting(&by), Utc::now())
                .await
                .map_err(failed)?;
            Ok(NewSecret { key, secret })
        })
    }

    fn rotate_key(
        &self,
        by: Caller,
        id: Uuid,
        grace_hours: u32,
    ) -> BoxFuture<'_, BackendResult<NewSecret>> {
        Box::pin(async move {
            let (key, secret) = keys::rotate(&self.pool, id, grace_hours, &acting(&by), Utc::now())
                .await
                .map_err(failed)?;
            Ok(NewSecret { key, secret })
        })
    }

    fn revoke_key(&self, by: Caller, id: Uuid) -> BoxFuture<'_, BackendResult<ApiKey>> {
        Box::pin(async move {
            keys::revoke(&self.pool, id, &acting(&by), Utc::now())
                .await
                .map_err(failed)
        })
    }

    fn users(&self) -> BoxFuture<'_, BackendResult<Vec<UserView>>> {
        Box::pin(async move {
            users::list(&self.pool)
                .await
                .map_err(|e| user_failed(e.into()))
        })
    }

    fn change_role(
        &self,
        by: Caller,
        id: Uuid,
        role: Role,
    ) -> BoxFuture<'_, BackendResult<UserView>> {
        Box::pin(async move {
            users::change_role(&self.pool, id, role, &acting(&by))
                .await
                .map_err(user_failed)
        })
    }

    fn set_active(
        &self,
        by: Caller,
        id: Uuid,
        active: bool,
    ) -> BoxFuture<'_, BackendResult<UserView>> {
        Box::pin(async move {
            let by = acting(&by);
            if active {
                users::reactivate(&self.pool, id, &by).await
            } else {
                users::deactivate(&self.pool, id, &by, Utc::now()).await
            }
            .map_err(user_failed)
        })
    }

    fn invite(
        &self,
        by: Caller,
        email: String,
        name: String,
        role: Role,
    ) -> BoxFuture<'_, BackendResult<NewInvitation>> {
        Box::pin(async move {
            let by = acting(&by);
            let valid = std::time::Duration::from_secs(
                u64::from(self.current().await?.invitation_hours) * 3600,
            );
            invitations::invite(&self.pool, &email, &name, role, &by, Utc::now(), valid)
                .await
                .map_err(invite_failed)
        })
    }

    fn pending_invitations(&self) -> BoxFuture<'_, BackendResult<Vec<Invitation>>> {
        Box::pin(async move {
            invitations::pending(&self.pool, Utc::now())
                .await
                .map_err(|e| invite_failed(e.into()))
        })
    }

    fn invitation_for(&self, token: String) -> BoxFuture<'_, BackendResult<InvitationFor>> {
        Box::pin(async move {
            invitations::describe(&self.pool, &token, Utc::now())
                .await
                .map_err(invite_failed)
        })
    }

    fn accept_invitation(
        &self,
        token: String,
        password: String,
        from: ClientFacts,
    ) -> BoxFuture<'_, BackendResult<()>> {
        Box::pin(async move {
            invitations::accept(
                &self.pool,
                &token,
                &password,
                from.ip,
                from.user_agent,
                Utc::now(),
            )
            .await
            .map(|_| ())
            .map_err(invite_failed)
        })
    }

    fn two_factor(&self, by: Caller) -> BoxFuture<'_, BackendResult<TwoFactorStatus>> {
        Box::pin(async move {
            let required = self
                .current()
                .await?
                .require_two_factor
                .applies_to(by.user.role);
            two_factor::status(&self.pool, by.user.id, required)
                .await
                .map_err(|e| two_factor_failed(e.into()))
        })
    }

    fn begin_two_factor(&self, by: Caller) -> BoxFuture<'_, BackendResult<Enrolment>> {
        Box::pin(async move {
            let site = self.current().await?.site_name;
            two_factor::begin(&self.pool, self.seal()?, &by.user, &site)
                .await
                .map_err(two_factor_failed)
        })
    }

    fn confirm_two_factor(
        &self,
        by: Caller,
        code: String,
    ) -> BoxFuture<'_, BackendResult<RecoveryCodes>> {
        Box::pin(async move {
            let seal = self.seal()?;
            two_factor::confirm(
                &self.pool,
                seal,
                by.user.id,
                &code,
                &acting(&by),
                Utc::now(),
            )
            .await
            .map_err(two_factor_failed)
        })
    }

    fn disable_two_factor(&self, by: Caller, code: String) -> BoxFuture<'_, BackendResult<()>> {
        Box::pin(async move {
            let seal = self.seal()?;
            let current = self.current().await?;
            if current.require_two_factor.applies_to(by.user.role) {
                return Err(ConsoleError::TwoFactor(TwoFactorRefusal::Required));
            }
            two_factor::disable(
                &self.pool,
                seal,
                by.user.id,
                &code,
                &acting(&by),
                settings::sign_in_limits(&current, self.sign_in),
                Utc::now(),
            )
            .await
            .map_err(two_factor_failed)
        })
    }

    fn new_recovery_codes(
        &self,
        by: Caller,
        code: String,
    ) -> BoxFuture<'_, BackendResult<RecoveryCodes>> {
        Box::pin(async move {
            let seal = self.seal()?;
            two_factor::regenerate(
                &self.pool,
                seal,
                by.user.id,
                &code,
                &acting(&by),
                self.limits().await?,
                Utc::now(),
            )
            .await
            .map_err(two_factor_failed)
        })
    }

    fn reset_two_factor(&self, by: Caller, id: Uuid) -> BoxFuture<'_, BackendResult<UserView>> {
        Box::pin(async move {
            two_factor::reset(&self.pool, id, &acting(&by))
                .await
                .map_err(two_factor_failed)
        })
    }

    fn change_password(
        &self,
        by: Caller,
        keep: CurrentSession,
        current: String,
        new: String,
    ) -> BoxFuture<'_, BackendResult<u64>> {
        Box::pin(async move {
            let acting = acting(&by);
            match crate::service::accounts::change_password(
                &self.pool,
                &by.user,
                &keep.hash,
                &current,
                &new,
                &acting,
                self.limits().await?,
            )
            .await
            {
                Ok(Ok(ended)) => Ok(ended),
                Ok(Err(refusal)) => Err(ConsoleError::Password(refusal)),
                Err(e) => {
                    tracing::error!(error = %e, "changing a password failed");
                    Err(ConsoleError::Unavailable)
                }
            }
        })
    }

    fn confirm_password(
        &self,
        by: Caller,
        current: CurrentSession,
        password: String,
    ) -> BoxFuture<'_, BackendResult<()>> {
        Box::pin(async move {
            match crate::service::accounts::confirm_password(
                &self.pool,
                &by.user,
                &current.hash,
                &password,
                &acting(&by),
                self.limits().await?,
            )
            .await
            {
                Ok(Ok(())) => Ok(()),
                Ok(Err(refusal)) => Err(ConsoleError::Password(refusal)),
                // The session or the account ended meanwhile.
                Err(crate::service::accounts::AccountError::Invalid(_)) => {
                    Err(ConsoleError::SignedOut)
                }
                Err(e) => {
                    tracing::error!(error = %e, "confirming a password failed");
                    Err(ConsoleError::Unavailable)
                }
            }
        })
    }

    fn sessions(
        &self,
        by: Caller,
        current: CurrentSession,
    ) -> BoxFuture<'_, BackendResult<Vec<SessionView>>> {
        Box::pin(async move {
            let lifetime = settings::session_lifetime(&self.current().await?);
            crate::storage::sessions::list(&self.pool, by.user.id, &current.hash, lifetime)
                .await
                .map_err(|e| {
                    tracing::error!(error = %e, "database error");
                    ConsoleError::Unavailable
                })
        })
    }

    fn end_session(
        &self,
        by: Caller,
        current: CurrentSession,
        id: Uuid,
    ) -> BoxFuture<'_, BackendResult<()>> {
        Box::pin(async move {
            let lifetime = settings::session_lifetime(&self.current().await?);
            match crate::service::accounts::end_session(
                &self.pool,
                &by.user,
                current.id,
                id,
                &acting(&by),
                lifetime,
            )
            .await
            {
                Ok(Ok(())) => Ok(()),
                Ok(Err(refusal)) => Err(ConsoleError::Session(refusal)),
                Err(e) => {
                    tracing::error!(error = %e, "ending a session failed");
                    Err(ConsoleError::Unavailable)
                }
            }
        })
    }

    fn settings(&self) -> BoxFuture<'_, BackendResult<Settings>> {
        Box::pin(self.current())
    }

    fn update_settings(&self, by: Caller, new: Settings) -> BoxFuture<'_, BackendResult<Settings>> {
        Box::pin(async move {
            settings::update(&self.pool, &self.settings, &acting(&by), new)
                .await
                .map_err(|e| match e {
                    SettingsError::Refused(r) => ConsoleError::Settings(r),
                    SettingsError::Db(e) => {
                        tracing::error!(error = %e, "database error");
                        ConsoleError::Unavailable
                    }
                })
        })
    }

    fn export_schedules(&self) -> BoxFuture<'_, BackendResult<Vec<ExportSchedule>>> {
        Box::pin(async move {
            let now = exports::clock(&self.pool).await.map_err(db_failed)?;
            schedules::list(&self.pool, now).await.map_err(db_failed)
        })
    }

    fn save_schedule(
        &self,
        by: Caller,
        id: Option<Uuid>,
        spec: ScheduleSpec,
    ) -> BoxFuture<'_, BackendResult<ExportSchedule>> {
        Box::pin(async move {
            let now = exports::clock(&self.pool).await.map_err(db_failed)?;
            match id {
                None => {
                    schedules::create(
                        &self.pool,
                        &spec,
                        self.export_seal.as_ref(),
                        &acting(&by),
                        now,
                    )
                    .await
                }
                Some(id) => {
                    let seal = self.export_seal.as_ref();
                    schedules::update(&self.pool, id, &spec, seal, &acting(&by), now).await
                }
            }
            .map_err(schedule_failed)
        })
    }

    fn delete_schedule(&self, by: Caller, id: Uuid) -> BoxFuture<'_, BackendResult<()>> {
        Box::pin(async move {
            let now = exports::clock(&self.pool).await.map_err(db_failed)?;
            schedules::delete(&self.pool, id, &acting(&by), now)
                .await
                .map_err(schedule_failed)
        })
    }

    fn run_schedule_now(&self, by: Caller, id: Uuid) -> BoxFuture<'_, BackendResult<ExportRun>> {
        Box::pin(async move {
            let now = exports::clock(&self.pool).await.map_err(db_failed)?;
            schedules::run_now(&self.pool, id, None, &acting(&by), now)
                .await
                .map_err(schedule_failed)
        })
    }

    fn export_runs(
        &self,
        before: Option<Uuid>,
        limit: i64,
    ) -> BoxFuture<'_, BackendResult<Vec<ExportRun>>> {
        Box::pin(async move {
            schedules::history(&self.pool, None, before, limit.clamp(1, 200))
                .await
                .map_err(db_failed)?
                .ok_or(ConsoleError::Schedule(ScheduleRefusal::RunNotFound))
        })
    }

    fn archive_months(&self) -> BoxFuture<'_, BackendResult<Vec<ArchiveMonth>>> {
        Box::pin(async move {
            let now = exports::clock(&self.pool).await.map_err(db_failed)?;
            crate::service::months::months(&self.pool, now)
                .await
                .map_err(archive_failed)
        })
    }

    fn retention_policy(&self) -> BoxFuture<'_, BackendResult<RetentionPolicy>> {
        Box::pin(async move {
            crate::service::retention::policy(&self.pool)
                .await
                .map_err(db_failed)
        })
    }

    fn set_retention_policy(
        &self,
        by: Caller,
        spec: RetentionSpec,
    ) -> BoxFuture<'_, BackendResult<RetentionPolicy>> {
        Box::pin(async move {
            let keep = match (spec.keep_months, spec.schedule_id) {
                (None, _) => None,
                (Some(k), Some(s)) => Some((k, s)),
                (Some(_), None) => {
                    return Err(ConsoleError::Schedule(ScheduleRefusal::Retention(
                        "choose the schedule that archives the months before they leave the \
                         database"
                            .into(),
                    )))
                }
            };
            let now = exports::clock(&self.pool).await.map_err(db_failed)?;
            crate::service::retention::set_policy(&self.pool, keep, &acting(&by), now)
                .await
                .map_err(schedule_failed)?;
            crate::service::retention::policy(&self.pool)
                .await
                .map_err(db_failed)
        })
    }

    fn alert_rules(&self) -> BoxFuture<'_, BackendResult<Vec<AlertRuleView>>> {
        Box::pin(async move {
            let now = exports::clock(&self.pool).await.map_err(db_failed)?;
            alert_rules::list(&self.pool, now).await.map_err(db_failed)
        })
    }

    fn save_alert_rule(
        &self,
        by: Caller,
        id: Option<Uuid>,
        spec: AlertRuleSpec,
    ) -> BoxFuture<'_, BackendResult<AlertRuleView>> {
        Box::pin(async move {
            let now = exports::clock(&self.pool).await.map_err(db_failed)?;
            match id {
                None => {
                    let row = alert_rules::create(&self.pool, &spec, &acting(&by), now)
                        .await
                        .map_err(rule_failed)?;
                    alert_rules::get(&self.pool, row.id, now).await
                }
                Some(id) => alert_rules::update(&self.pool, id, &spec, &acting(&by), now).await,
            }
            .map_err(rule_failed)
        })
    }

    fn delete_alert_rule(&self, by: Caller, id: Uuid) -> BoxFuture<'_, BackendResult<()>> {
        Box::pin(async move {
            let now = exports::clock(&self.pool).await.map_err(db_failed)?;
            alert_rules::delete(&self.pool, id, &acting(&by), now)
                .await
                .map_err(rule_failed)
        })
    }

    fn mute_alert_rule(
        &self,
        by: Caller,
        id: Uuid,
        until: Option<chrono::DateTime<Utc>>,
    ) -> BoxFuture<'_, BackendResult<AlertRuleView>> {
        Box::pin(async move {
            let now = exports::clock(&self.pool).await.map_err(db_failed)?;
            alert_rules::mute(&self.pool, id, until, &acting(&by), now)
                .await
                .map_err(rule_failed)
        })
    }

    fn preview_alert_rule(&self, spec: AlertRuleSpec) -> BoxFuture<'_, BackendResult<RulePreview>> {
        Box::pin(async move {
            let now = exports::clock(&self.pool).await.map_err(db_failed)?;
            crate::service::alerts::preview::preview(&self.pool, &self.alerting.reads, &spec, now)
                .await
                .map_err(rule_failed)
        })
    }

    fn channels(&self) -> BoxFuture<'_, BackendResult<Vec<ChannelView>>> {
        Box::pin(async move {
            let now = exports::clock(&self.pool).await.map_err(db_failed)?;
            alert_channels::list(&self.pool, now)
                .await
                .map_err(db_failed)
        })
    }

    fn save_channel(
        &self,
        by: Caller,
        id: Option<Uuid>,
        spec: ChannelSpec,
    ) -> BoxFuture<'_, BackendResult<CreatedChannel>> {
        Box::pin(async move {
            let now = exports::clock(&self.pool).await.map_err(db_failed)?;
            let seal = self
                .alerting
                .seal
                .as_ref()
                .ok_or_else(|| channel_failed(ChannelError::NoSealKey))?;
            let policy = &self.alerting.outbound;
            let (row, secret) = match id {
                None => alert_channels::create(&self.pool, seal, policy, &spec, &acting(&by), now)
                    .await
                    .map_err(channel_failed)?,
                Some(id) => (
                    alert_channels::update(&self.pool, seal, policy, id, &spec, &acting(&by), now)
                        .await
                        .map_err(channel_failed)?,
                    None,
                ),
            };
            Ok(CreatedChannel {
                channel: alert_channels::view(&row, now),
                secret,
            })
        })
    }

    fn delete_channel(&self, by: Caller, id: Uuid) -> BoxFuture<'_, BackendResult<()>> {
        Box::pin(async move {
            let now = exports::clock(&self.pool).await.map_err(db_failed)?;
            alert_channels::delete(&self.pool, id, &acting(&by), now)
                .await
                .map_err(channel_failed)
        })
    }

    fn test_channel(&self, by: Caller, id: Uuid) -> BoxFuture<'_, BackendResult<Uuid>> {
        Box::pin(async move {
            let attempts = crate::domain::alerts::delivery::RetryPolicy::default().attempts;
            alert_channels::send_test(&self.pool, id, attempts as i32, &acting(&by))
                .await
                .map_err(channel_failed)
        })
    }

    fn deliveries(
        &self,
        status: Option<String>,
        alert: Option<Uuid>,
        after: Option<Uuid>,
    ) -> BoxFuture<'_, BackendResult<(Vec<DeliveryView>, Option<Uuid>)>> {
        Box::pin(async move {
            let f = crate::storage::notifications::DeliveryFilter {
                status,
                alert,
                after,
                ..Default::default()
            };
            alert_deliveries::list(&self.pool, &f, 50)
                .await
                .map_err(db_failed)
        })
    }

    fn redeliver(&self, by: Caller, id: Uuid) -> BoxFuture<'_, BackendResult<()>> {
        Box::pin(async move {
            match alert_deliveries::redeliver(&self.pool, id, &acting(&by)).await {
                Ok(()) => Ok(()),
                Err(alert_deliveries::RedeliverError::Db(e)) => Err(db_failed(e)),
                Err(other) => Err(ConsoleError::Delivery(other.to_string())),
            }
        })
    }

    fn alerts(
        &self,
        rule: Option<Uuid>,
        seq: Option<i64>,
    ) -> BoxFuture<'_, BackendResult<Vec<AlertView>>> {
        Box::pin(async move {
            let f = crate::storage::alerts::AlertFilter {
                rule,
                seq,
                after: None,
            };
            let shown = app::alerts::ALERTS_SHOWN as i64;
            alert_deliveries::alerts(&self.pool, &f, shown, self.alerting.public_url.as_deref())
                .await
                .map(|(list, _)| list)
                .map_err(db_failed)
        })
    }
}

fn archive_failed(e: crate::service::archive::ArchiveError) -> ConsoleError {
    tracing::error!(error = %e, "the month view failed");
    ConsoleError::Unavailable
}

fn rule_failed(e: RuleError) -> ConsoleError {
    match e {
        RuleError::Refused(r) => ConsoleError::Rule(r),
        RuleError::Db(e) => db_failed(e),
    }
}

fn channel_failed(e: ChannelError) -> ConsoleError {
    match e {
        ChannelError::Refused(r) => ConsoleError::Channel(r),
        ChannelError::Db(e) => db_failed(e),
        other => {
            tracing::error!(error = %other, "a channel's secrets cannot be sealed or opened");
            ConsoleError::Unavailable
        }
    }
}

fn db_failed(e: sqlx::Error) -> ConsoleError {
    tracing::error!(error = %e, "database error");
    ConsoleError::Unavailable
}

fn schedule_failed(e: ScheduleError) -> ConsoleError {
    match e {
        ScheduleError::Refused(r) => ConsoleError::Schedule(r),
        ScheduleError::Db(e) => db_failed(e),
    }
}
