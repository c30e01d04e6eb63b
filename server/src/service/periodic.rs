//! The one loop the background workers run in every process (the integrator, the signer, the
//! sign-in summariser): a step each period until the process stops. Each step takes its own
//! advisory lock, so several processes run as one.

use std::future::Future;
use std::time::Duration;

/// Runs `step` each `period` (a late tick waits, never bunches) until `stop` resolves.
pub async fn every<F, Fut>(period: Duration, stop: impl Future<Output = ()>, mut step: F)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = ()>,
{
    let mut tick = tokio::time::interval(period);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    tokio::pin!(stop);
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            _ = &mut stop => return,
        }
        step().await;
    }
}
