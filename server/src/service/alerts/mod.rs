//! Alerting as it runs: rules and channels as people make them (each change committed with
//! the entry that records it), the one evaluator that reads the log in `seq` order and
//! decides, and the deliverers that send what it decided.
//!
//! - `rules`: a rule's spec checked into a condition, created with its audit entry.
//! - `channels`: webhook and email channels, their secrets sealed.
//! - `evaluator`: the lease, the machines, and the step that commits progress, decisions and
//!   the deliveries they owe together.
//! - `deliverer`: claims, sends (signed webhooks, email) and records each attempt.
//! - `deliveries`: the delivery log, redelivery, and alerts with their console links.
//! - `preview`: what a rule would have decided over the last 7 days, by the same machine.

pub mod channels;
pub mod deliverer;
pub mod deliveries;
pub mod evaluator;
pub mod preview;
pub mod rules;
