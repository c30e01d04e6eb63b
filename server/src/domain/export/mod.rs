//! Exports, Trailkeep's evidence: the formats (`format`), what `trailkeep verify-export`
//! checks offline (`check`), the PDF report (`report`, drawn with `pdf`), when a scheduled
//! export runs and what period it covers (`schedule`), and the archive bundle a scheduled run
//! writes, with what proves it offline (`bundle`); an S3-compatible destination's settings and
//! upload rules (`s3`); which months the archives cover (`months`); JSON read strictly (`strict`).

pub mod bundle;
pub mod check;
pub mod format;
pub mod months;
pub mod pdf;
pub mod report;
pub mod s3;
pub mod schedule;
pub mod strict;
