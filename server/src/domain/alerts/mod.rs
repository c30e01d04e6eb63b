//! Alerts: rules over the shared `Filter` that notify when their entries come (every match),
//! come too often (a threshold within a sliding window, per group) or stop coming (absence).
//! The log is the evaluator's input queue: entries are read in `seq` order and windows are of
//! `recorded_at`, the server's clock, which never goes back in that order.
//!
//! - `rule`: what a rule is and every bound it can set.
//! - `machine`: the one pure machine that decides fired, resolved and batched, at exact
//!   instants, for the evaluator and the preview alike.
//! - `webhook`: Standard Webhooks signatures.
//! - `notice`: what a notification says (webhook JSON, Slack, email) and its console link.
//! - `delivery`: when a delivery is retried, and when it is given up.

pub mod delivery;
pub mod machine;
pub mod notice;
pub mod rule;
pub mod webhook;

#[cfg(test)]
mod reference;
