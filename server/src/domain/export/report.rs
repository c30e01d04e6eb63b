//! The PDF compliance report: a cover block (site, filters in words, period, the entries'
//! `seq` range, who generated it and when, the count), a paginated table with its header
//! repeated on every page, each change's before/after under its entry and "page i of n"
//! below, then a summary page (counts by action category and status). A4 landscape, DejaVu
//! Sans Mono embedded, so every page reads the same everywhere and column widths are exact
//! character counts; the font's Unicode map covers characters beyond the Basic Multilingual
//! Plane, so every character's text can be extracted and copied.
//!
//! Pages leave as they fill ([`Report::take`]): memory holds one page, whatever the count.
//! What is known only at the end (the number of pages, the seq range) is drawn on the pages
//! as named XObjects whose content is written last ([`super::pdf`]).

use std::collections::BTreeMap;

use app::action::category_label;
use app::model::{AuditEntry, Status};
use chrono::{NaiveDateTime, Timelike};

use super::pdf::PdfWriter;

const FONT: &[u8] = include_bytes!("../../../assets/fonts/DejaVuSansMono.ttf");

/// A PDF over this many entries is refused up front (CSV and JSON have no limit).
pub const MAX_ENTRIES: i64 = 100_000;

const WIDTH: f32 = 297.0;
const HEIGHT: f32 = 210.0;
const MARGIN: f32 = 12.0;
const TEXT_PT: f32 = 7.0;
/// DejaVu Sans Mono advances 0.602 em per character.
const CHAR_MM: f32 = TEXT_PT * 0.602 * 25.4 / 72.0;
const ROW_MM: f32 = 4.4;
/// Where the table starts on the first page (below the cover block) and on the others.
const FIRST_TABLE_TOP: f32 = HEIGHT - MARGIN - 52.0;
const TABLE_TOP: f32 = HEIGHT - MARGIN - 8.0;
const TABLE_BOTTOM: f32 = MARGIN + 8.0;

/// Column titles and widths in characters (the last takes the rest of the line).
const COLUMNS: [(&str, usize); 7] = [
    ("Timestamp (UTC)", 24),
    ("User", 28),
    ("Action", 24),
    ("Resource", 28),
    ("IP address", 20),
    ("Status", 9),
    ("Details", 0),
];

fn rows_per_page(top: f32) -> i64 {
    ((top - ROW_MM - TABLE_BOTTOM) / ROW_MM) as i64
}

/// At most this many before/after lines under one entry; more are summed up in one line.
const MAX_CHANGE_LINES: usize = 6;

/// The before/after lines under an entry: `field: before → after`.
pub fn change_lines(e: &AuditEntry) -> Vec<String> {
    let changes = app::model::changes(&e.details);
    let mut lines: Vec<String> = changes
        .iter()
        .take(MAX_CHANGE_LINES)
        .map(|(field, before, after)| format!("{field}: {before} → {after}"))
        .collect();
    if changes.len() > MAX_CHANGE_LINES {
        lines.push(format!(
            "… and {} more changes (see the JSON export)",
            changes.len() - MAX_CHANGE_LINES
        ));
    }
    lines
}

/// Lines an entry takes in the table: its row and its before/after lines.
pub fn entry_lines(e: &AuditEntry) -> i64 {
    1 + change_lines(e).len() as i64
}

/// Pages for entries taking these lines each: the first (cover + rows), as many more as the
/// rows need (an entry never splits across pages), and the summary page.
pub fn page_count(lines: impl IntoIterator<Item = i64>) -> i64 {
    let mut pages = 1;
    let mut used = 0;
    let mut capacity = rows_per_page(FIRST_TABLE_TOP);
    for n in lines {
        if used + n > capacity && used > 0 {
            pages += 1;
            used = 0;
            capacity = rows_per_page(TABLE_TOP);
        }
        used += n;
    }
    pages + 1
}

/// The report's period and generation time as wall-clock times in the reader's zone
/// (PostgreSQL converts the instants: `storage::query::wall_clocks`).
pub struct PeriodWalls {
    /// The first instant covered, `None` from the first entry.
    pub from: Option<NaiveDateTime>,
    /// The first instant not covered, `None` up to `now`.
    pub to: Option<NaiveDateTime>,
    pub now: NaiveDateTime,
}

/// `Wednesday 25 November 2026, 14:03:07` (fractions of a second when there are any).
pub fn moment_words(t: NaiveDateTime) -> String {
    let micros = t.nanosecond() / 1_000;
    let time = match micros {
        0 => t.format("%H:%M:%S").to_string(),
        m if m % 1_000 == 0 => format!("{}.{:03}", t.format("%H:%M:%S"), m / 1_000),
        m => format!("{}.{m:06}", t.format("%H:%M:%S")),
    };
    format!("{}, {time}", t.format("%A %-d %B %Y"))
}

/// The period in words: whole days as days, an end as the last second it includes (an end
/// finer than a second as "before" it), in `zone`: `Sunday 1 November 2026 through Wednesday
/// 25 November 2026 (Europe/Berlin)`.
pub fn period_words(w: &PeriodWalls, zone: &str) -> String {
    let midnight = |t: &NaiveDateTime| t.time() == chrono::NaiveTime::MIN;
    let day = |t: &NaiveDateTime| t.format("%A %-d %B %Y").to_string();
    let from = match &w.from {
        None => "The first entry".to_string(),
        Some(t) if midnight(t) => day(t),
        Some(t) => moment_words(*t),
    };
    let to = match &w.to {
        None => format!("now ({})", moment_words(w.now)),
        Some(t) if midnight(t) => day(&(*t - chrono::Duration::days(1))),
        Some(t) if t.nanosecond() == 0 => moment_words(*t - chrono::Duration::seconds(1)),
        Some(t) => return format!("{from} until before {} ({zone})", moment_words(*t)),
    };
    format!("{from} through {to} ({zone})")
}

/// What the cover says.
pub struct Cover {
    pub site: String,
    pub filters: Vec<String>,
    pub period: String,
    pub generated_at: String,
    pub generated_by: String,
    pub count: i64,
    /// The checkpoint the report was cut against, in words (in every page's footer).
    pub checkpoint: String,
    /// The months of the period that retention moved to archive bundles, in words (their
    /// entries are not in the report).
    pub archived: Option<String>,
}

/// The first and last `seq` of the entries in the report (in `seq` terms, whatever the order).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
struct SeqRange(Option<(i64, i64)>);

impl SeqRange {
    fn add(&mut self, seq: i64) {
        self.0 = Some(match self.0 {
            None => (seq, seq),
            Some((a, b)) => (a.min(seq), b.max(seq)),
        });
    }
}

/// Writes the report as pages of entries arrive (in the export's order).
pub struct Report {
    pdf: PdfWriter,
    /// The footer's checkpoint line ([`Cover::checkpoint`]).
    checkpoint: String,
    y: f32,
    /// Lines on this page so far, and how many it holds.
    rows_on_page: i64,
    capacity: i64,
    categories: BTreeMap<String, (i64, i64)>,
    written: i64,
    seqs: SeqRange,
}

fn truncate(text: &str, chars: usize) -> String {
    let clean: String = text
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    if clean.chars().count() <= chars {
        clean
    } else {
        let mut out: String = clean.chars().take(chars.saturating_sub(1)).collect();
        out.push('…');
        out
    }
}

type Rgb = (f32, f32, f32);
const GREY: Rgb = (0.35, 0.38, 0.45);
const BLACK: Rgb = (0.1, 0.12, 0.16);
const RED: Rgb = (0.7, 0.14, 0.09);

/// Millimetres to points.
fn pt(mm: f32) -> f32 {
    mm * 72.0 / 25.4
}

/// The XObjects drawn last: the page count (in every footer) and the seq range (on the cover).
const TOTAL: &str = "Total";
const SEQS: &str = "Seqs";
/// Where the footer's "page i of n" starts, and its baseline.
const FOOTER_X: f32 = WIDTH - MARGIN - 20.0 * CHAR_MM;
const FOOTER_Y: f32 = MARGIN - 2.0;

impl Report {
    pub fn new(cover: &Cover) -> Result<Self, String> {
        let pdf = PdfWriter::new(FONT, pt(WIDTH), pt(HEIGHT), &[TOTAL, SEQS])?;
        let mut report = Report {
            pdf,
            y: FIRST_TABLE_TOP,
            rows_on_page: 0,
            capacity: rows_per_page(FIRST_TABLE_TOP),
            categories: BTreeMap::new(),
            written: 0,
            seqs: SeqRange::default(),
            checkpoint: cover.checkpoint.clone(),
        };
        report.cover(cover);
        report.table_header();
        Ok(report)
    }

    fn text(&mut self, text: &str, size: f32, x: f32, y: f32) {
        self.pdf.text(text, size, pt(x), pt(y));
    }

    /// Where the cover's lines are, from the top: `i` is the line's number.
    fn cover_line_y(i: usize) -> f32 {
        HEIGHT - MARGIN - 6.0 - 15.0 - i as f32 * 4.6
    }

    fn rule(&mut self, y: f32) {
        self.pdf
            .line((pt(MARGIN), pt(y)), (pt(WIDTH - MARGIN), pt(y)), 0.4, GREY);
    }

    fn cover(&mut self, c: &Cover) {
        let top = HEIGHT - MARGIN - 6.0;
        self.pdf.fill(BLACK);
        self.text("Audit log report", 16.0, MARGIN, top);
        self.text(&truncate(&c.site, 80), 10.0, MARGIN, top - 7.0);
        self.pdf.fill(GREY);
        let filters = if c.filters.is_empty() {
            "none (every entry)".to_string()
        } else {
            c.filters.join("; ")
        };
        let lines = [
            format!("Filters:       {}", truncate(&filters, 150)),
            format!("Period:        {}", c.period),
            format!("Generated at:  {}", c.generated_at),
            format!("Generated by:  {}", truncate(&c.generated_by, 120)),
            match &c.archived {
                None => format!("Entries:       {}", app::format::thousands(c.count)),
                Some(words) => truncate(
                    &format!(
                        "Entries:       {} here; archived, not here: {words}",
                        app::format::thousands(c.count)
                    ),
                    170,
                ),
            },
        ];
        for (i, line) in lines.iter().enumerate() {
            self.text(line, 8.0, MARGIN, Self::cover_line_y(i));
        }
        // Line 5, the seq range, is known at the end.
        self.pdf.place(SEQS, 0.0, 0.0);
        if c.count == 0 {
            self.pdf.fill(BLACK);
            self.text(
                "No entries match these filters.",
                9.0,
                MARGIN,
                FIRST_TABLE_TOP - 12.0,
            );
        }
    }

    /// "page i of n" (n drawn at the end) and the log's name, then the page leaves.
    fn end_page(&mut self) {
        let i = self.pdf.page_count() + 1;
        self.pdf.fill(GREY);
        let label = format!("page {i} of ");
        self.text(&label, TEXT_PT, FOOTER_X, FOOTER_Y);
        self.pdf
            .place(TOTAL, pt(label.chars().count() as f32 * CHAR_MM), 0.0);
        let footer = format!("Trailkeep audit log · {}", truncate(&self.checkpoint, 140));
        self.text(&footer, TEXT_PT, MARGIN, FOOTER_Y);
        self.pdf.end_page();
    }

    fn columns_x() -> impl Iterator<Item = (&'static str, usize, f32)> {
        let mut x = MARGIN;
        COLUMNS.iter().map(move |(title, width)| {
            let at = x;
            x += *width as f32 * CHAR_MM + 1.5;
            (*title, *width, at)
        })
    }

    fn detail_chars() -> usize {
        let (_, _, x) = Self::columns_x().last().expect("columns");
        ((WIDTH - MARGIN - x) / CHAR_MM) as usize
    }

    fn table_header(&mut self) {
        self.pdf.fill(BLACK);
        for (title, _, x) in Self::columns_x() {
            self.text(title, TEXT_PT, x, self.y);
        }
        self.rule(self.y - 1.4);
        self.y -= ROW_MM + 0.6;
    }

    fn new_page(&mut self) {
        self.end_page();
        self.y = TABLE_TOP;
        self.rows_on_page = 0;
        self.capacity = rows_per_page(TABLE_TOP);
    }

    /// The document's bytes written since the last call (whole pages), to send on.
    pub fn take(&mut self) -> Vec<u8> {
        self.pdf.take()
    }

    /// Adds entries in order, starting pages as they fill.
    pub fn add(&mut self, entries: &[AuditEntry]) {
        for e in entries {
            let changes = change_lines(e);
            let lines = 1 + changes.len() as i64;
            if self.rows_on_page + lines > self.capacity && self.rows_on_page > 0 {
                self.new_page();
                self.table_header();
            }
            let failed = e.status == Status::Failure;
            let user = e
                .actor
                .email
                .clone()
                .or_else(|| e.actor.name.clone())
                .unwrap_or_else(|| e.actor.id.clone());
            let resource = e
                .resource
                .as_ref()
                .map(|r| format!("{} {}", r.kind, r.id))
                .unwrap_or_default();
            let at = e.occurred_at.format("%Y-%m-%d %H:%M:%S").to_string();
            let cells = [
                at,
                user,
                e.action.clone(),
                resource,
                e.ip.clone().unwrap_or_default(),
                if failed { "FAILURE" } else { "success" }.to_string(),
                e.details_summary(),
            ];
            self.pdf.fill(BLACK);
            for ((_, width, x), cell) in Self::columns_x().zip(cells.iter()) {
                let width = if width == 0 {
                    Self::detail_chars()
                } else {
                    width
                };
                let failure_cell = failed && cell == "FAILURE";
                if failure_cell {
                    self.pdf.fill(RED);
                }
                let y = self.y;
                self.text(&truncate(cell, width), TEXT_PT, x, y);
                if failure_cell {
                    self.pdf.fill(BLACK);
                }
            }
            // Each change's before/after, under the entry, from the User column on.
            if !changes.is_empty() {
                let (_, _, x) = Self::columns_x().nth(1).expect("columns");
                let room = ((WIDTH - MARGIN - x) / CHAR_MM) as usize;
                self.pdf.fill(GREY);
                for line in &changes {
                    self.y -= ROW_MM;
                    self.rows_on_page += 1;
                    let y = self.y;
                    self.text(&truncate(line, room), TEXT_PT, x, y);
                }
                self.pdf.fill(BLACK);
            }
            self.seqs.add(e.seq);
            let counts = self
                .categories
                .entry(category_label(e.category()))
                .or_default();
            if failed {
                counts.1 += 1;
            } else {
                counts.0 += 1;
            }
            self.written += 1;
            self.rows_on_page += 1;
            self.y -= ROW_MM;
        }
    }

    /// The summary page, then the page count and the cover's `seq` range; the last bytes.
    pub fn finish(mut self) -> Result<Vec<u8>, String> {
        self.new_page();
        self.pdf.fill(BLACK);
        let y = self.y;
        self.text("Summary", 12.0, MARGIN, y);
        self.y -= 8.0;
        let line = |report: &mut Report, y: f32, cols: [String; 4]| {
            let mut x = MARGIN;
            for (text, width) in cols.iter().zip([30usize, 12, 12, 12]) {
                report.text(text, 8.0, x, y);
                x += width as f32 * 8.0 * 0.602 * 25.4 / 72.0 + 2.0;
            }
        };
        let y = self.y;
        line(
            &mut self,
            y,
            [
                "Action category".into(),
                "Success".into(),
                "Failure".into(),
                "Total".into(),
            ],
        );
        self.rule(y - 1.6);
        self.y -= 5.0;
        let (mut ok, mut failed) = (0, 0);
        for (category, (s, f)) in std::mem::take(&mut self.categories) {
            let y = self.y;
            line(
                &mut self,
                y,
                [
                    truncate(&category, 30),
                    app::format::thousands(s),
                    app::format::thousands(f),
                    app::format::thousands(s + f),
                ],
            );
            ok += s;
            failed += f;
            self.y -= 4.6;
        }
        let y = self.y;
        self.rule(y + 3.0);
        let written = self.written;
        line(
            &mut self,
            y - 1.0,
            [
                "All entries".into(),
                app::format::thousands(ok),
                app::format::thousands(failed),
                app::format::thousands(written),
            ],
        );
        self.end_page();
        let pages = self.pdf.page_count();
        let range = match self.seqs.0 {
            Some((a, b)) => format!("Sequence:      seq {a} to {b}"),
            None => "Sequence:      none".to_string(),
        };
        Ok(self.pdf.finish(|name, pdf| {
            pdf.fill(GREY);
            match name {
                TOTAL => pdf.text(&pages.to_string(), TEXT_PT, pt(FOOTER_X), pt(FOOTER_Y)),
                _ => pdf.text(&range, 8.0, pt(MARGIN), pt(Self::cover_line_y(5))),
            }
        }))
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_period_reads_in_words() {
        use super::{moment_words, period_words, PeriodWalls};
        let t = |s: &str| chrono::NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M:%S%.f").unwrap();
        let now = t("2026-11-26 09:30:00.5");
        let month = PeriodWalls {
            from: Some(t("2026-11-01 00:00:00")),
            to: Some(t("2026-11-26 00:00:00")),
            now,
        };
        assert_eq!(
            period_words(&month, "Europe/Berlin"),
            "Sunday 1 November 2026 through Wednesday 25 November 2026 (Europe/Berlin)"
        );
        let minutes = PeriodWalls {
            from: Some(t("2026-11-25 14:03:00")),
            to: Some(t("2026-11-25 14:04:00")),
            now,
        };
        assert_eq!(
            period_words(&minutes, "UTC"),
            "Wednesday 25 November 2026, 14:03:00 through Wednesday 25 November 2026, 14:03:59 (UTC)"
        );
        let fine = PeriodWalls {
            from: None,
            to: Some(t("2026-11-25 10:30:07.25")),
            now,
        };
        assert_eq!(
            period_words(&fine, "UTC"),
            "The first entry until before Wednesday 25 November 2026, 10:30:07.250 (UTC)"
        );
        let open = PeriodWalls {
            from: None,
            to: None,
            now,
        };
        assert_eq!(
            period_words(&open, "UTC"),
            "The first entry through now (Thursday 26 November 2026, 09:30:00.500) (UTC)"
        );
        assert_eq!(
            moment_words(t("2026-11-25 10:30:07.000123")),
            "Wednesday 25 November 2026, 10:30:07.000123"
        );
    }

    use super::*;

    #[test]
    fn pages_hold_the_cover_the_rows_and_the_summary() {
        let first = rows_per_page(FIRST_TABLE_TOP);
        let per = rows_per_page(TABLE_TOP);
        assert!(first > 20 && per > first);
        let ones = |n: i64| std::iter::repeat_n(1, n as usize);
        assert_eq!(page_count(ones(0)), 2);
        assert_eq!(page_count(ones(first)), 2);
        assert_eq!(page_count(ones(first + 1)), 3);
        assert_eq!(page_count(ones(first + per)), 3);
        assert_eq!(page_count(ones(first + per + 1)), 4);
        // An entry with its before/after lines never splits across pages.
        assert_eq!(page_count(ones(first - 1).chain([3])), 3);
    }

    #[test]
    fn long_cells_are_cut_with_an_ellipsis() {
        assert_eq!(truncate("abc", 5), "abc");
        assert_eq!(truncate("abcdefgh", 5), "abcd…");
        assert_eq!(truncate("a\nb", 5), "a b");
    }
}
