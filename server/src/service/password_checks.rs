//! How guessing is bounded: the sign-in limits (account, address block, slow-down), which the
//! password step, the code step and every change proven by a password or a code share; and
//! the passwords (and recovery codes) checked at once by this process. Argon2id takes a core for
//! tens of milliseconds and runs on the blocking pool; each check also holds a database
//! connection, so a burst of sign-ins waits here instead of stalling requests or draining the
//! pool. A caller takes its turn before its transaction begins, and only once.

use std::sync::LazyLock;

use tokio::sync::Semaphore;

pub(crate) static PASSWORD_CHECKS: LazyLock<Semaphore> =
    LazyLock::new(|| Semaphore::new(std::thread::available_parallelism().map_or(2, |n| n.get())));

/// How sign-in refuses guessing, within a sliding window: per account from one address
/// block, per address block, and a slow-down per account.
#[derive(Clone, Copy, Debug)]
pub struct SignInLimits {
    /// Failed passwords for one account from one address block (`/64` for IPv6) that lock the
    /// account for that block (only) for the window.
    pub email_failures: i64,
    /// Refused attempts from one address block after which it is not heard for the window.
    pub ip_failures: i64,
    /// Failures on one account from anywhere after which its checks are spaced out.
    pub slow_after: i64,
    pub window_minutes: i32,
    /// How long a session that sign-in opens lasts (the Settings' session lifetime).
    pub session_hours: u32,
}

impl Default for SignInLimits {
    fn default() -> Self {
        SignInLimits {
            email_failures: LOCKOUT_FAILURES,
            ip_failures: 30,
            slow_after: 10,
            window_minutes: LOCKOUT_MINUTES,
            // A working day, signed in once.
            session_hours: 12,
        }
    }
}

/// The least time between two password checks on an account past its slow-down: at most
/// `slow_after` + 15 min / 2 s = 460 guesses per account in a 15-minute window, from any
/// number of addresses.
pub const LOCKOUT_FAILURES: i64 = 5;
pub const LOCKOUT_MINUTES: i32 = 15;
