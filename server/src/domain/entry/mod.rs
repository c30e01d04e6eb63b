//! An entry: its one field list and stored record (`record`), the events clients send that
//! become entries (`event`), the canonical form its leaf hash covers (`canonical`), and the
//! hash chain through every entry in order (`chain`).

pub mod canonical;
pub mod chain;
pub mod event;
pub mod record;
