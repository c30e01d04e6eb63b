//! `settings`: the one row an admin saves from the Settings page (none until then).

use app::settings::{Settings, TwoFactorRequirement};
use sqlx::{FromRow, PgConnection};

#[derive(FromRow)]
struct SettingsRow {
    site_name: String,
    lockout_failures: i32,
    lockout_minutes: i32,
    session_hours: i32,
    idle_minutes: i32,
    invitation_hours: i32,
    require_two_factor: String,
    late_record_seconds: i32,
}

impl From<SettingsRow> for Settings {
    fn from(r: SettingsRow) -> Self {
        // The table's CHECKs hold every value within the bounds `Settings::checked` states.
        let n = |v: i32| u32::try_from(v).unwrap_or(0);
        Settings {
            site_name: r.site_name,
            lockout_failures: n(r.lockout_failures),
            lockout_minutes: n(r.lockout_minutes),
            session_hours: n(r.session_hours),
            idle_minutes: n(r.idle_minutes),
            invitation_hours: n(r.invitation_hours),
            require_two_factor: TwoFactorRequirement::parse(&r.require_two_factor)
                .unwrap_or(TwoFactorRequirement::Everyone),
            late_record_seconds: n(r.late_record_seconds),
        }
    }
}

const COLUMNS: &str = "site_name, lockout_failures, lockout_minutes, session_hours, idle_minutes, \
     invitation_hours, require_two_factor, late_record_seconds";

/// The saved settings, if an admin ever saved them.
pub async fn load(conn: impl sqlx::PgExecutor<'_>) -> Result<Option<Settings>, sqlx::Error> {
    let row: Option<SettingsRow> = sqlx::query_as(&format!("SELECT {COLUMNS} FROM settings"))
        .fetch_optional(conn)
        .await?;
    Ok(row.map(Into::into))
}

/// The saved settings, locked until the transaction ends (two admins saving at once: the
/// second reads what the first saved, so its entry's "before" is true).
pub async fn lock(conn: &mut PgConnection) -> Result<Option<Settings>, sqlx::Error> {
    // Serialises the first save too, when there is no row to lock yet.
    sqlx::query("SELECT pg_advisory_xact_lock(hashtext('trailkeep settings'))")
        .execute(&mut *conn)
        .await?;
    let row: Option<SettingsRow> =
        sqlx::query_as(&format!("SELECT {COLUMNS} FROM settings FOR UPDATE"))
            .fetch_optional(&mut *conn)
            .await?;
    Ok(row.map(Into::into))
}

pub async fn save(conn: &mut PgConnection, s: &Settings) -> Result<(), sqlx::Error> {
    let n = |v: u32| i32::try_from(v).unwrap_or(i32::MAX);
    sqlx::query(&format!(
        "INSERT INTO settings ({COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8) \
         ON CONFLICT (singleton) DO UPDATE SET site_name = $1, lockout_failures = $2, \
         lockout_minutes = $3, session_hours = $4, idle_minutes = $5, invitation_hours = $6, \
         require_two_factor = $7, late_record_seconds = $8, updated_at = now()"
    ))
    .bind(&s.site_name)
    .bind(n(s.lockout_failures))
    .bind(n(s.lockout_minutes))
    .bind(n(s.session_hours))
    .bind(n(s.idle_minutes))
    .bind(n(s.invitation_hours))
    .bind(s.require_two_factor.as_str())
    .bind(n(s.late_record_seconds))
    .execute(conn)
    .await?;
    Ok(())
}
