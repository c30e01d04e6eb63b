//! Exports, Trailkeep's evidence: the formats (`format`), what `trailkeep verify-export`
//! checks offline (`check`), and the PDF report (`report`, drawn with `pdf`).

pub mod check;
pub mod format;
pub mod pdf;
pub mod report;
