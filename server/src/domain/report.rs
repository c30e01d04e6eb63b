//! The PDF compliance report: a cover block (site, filters in words, period, who generated it
//! and when, the count), a paginated table with its header repeated on every page and
//! "page i of n" below, then a summary page (counts by action category and status). A4
//! landscape, DejaVu Sans Mono embedded, so every page reads the same everywhere and column
//! widths are exact character counts.

use std::collections::BTreeMap;
use std::io::Cursor;

use app::model::{category_label, AuditEntry, Status};
use printpdf::{
    Color, IndirectFontRef, Line, Mm, PdfDocument, PdfDocumentReference, PdfLayerReference, Point,
    Rgb, TextMatrix,
};

const FONT: &[u8] = include_bytes!("../../assets/fonts/DejaVuSansMono.ttf");

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

/// Pages for `count` entries: the first (cover + rows), as many more as the rows need, and
/// the summary page.
pub fn page_count(count: i64) -> i64 {
    let first = rows_per_page(FIRST_TABLE_TOP);
    let rest = (count - first).max(0);
    let per = rows_per_page(TABLE_TOP);
    1 + (rest + per - 1) / per + 1
}

/// What the cover says.
pub struct Cover {
    pub site: String,
    pub filters: Vec<String>,
    pub period: String,
    pub generated_at: String,
    pub generated_by: String,
    pub count: i64,
}

/// Writes the report as pages of entries arrive (in the export's order).
pub struct Report {
    doc: PdfDocumentReference,
    font: IndirectFontRef,
    layer: PdfLayerReference,
    pages: i64,
    page: i64,
    y: f32,
    /// Rows on this page so far, and how many it holds: pages break by count, so the
    /// "of n" computed up front is what gets drawn.
    rows_on_page: i64,
    capacity: i64,
    categories: BTreeMap<String, (i64, i64)>,
    written: i64,
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

fn grey() -> Color {
    Color::Rgb(Rgb::new(0.35, 0.38, 0.45, None))
}

fn black() -> Color {
    Color::Rgb(Rgb::new(0.1, 0.12, 0.16, None))
}

fn red() -> Color {
    Color::Rgb(Rgb::new(0.7, 0.14, 0.09, None))
}

impl Report {
    pub fn new(cover: &Cover) -> Result<Self, String> {
        let (doc, page, layer) =
            PdfDocument::new("Trailkeep audit report", Mm(WIDTH), Mm(HEIGHT), "page");
        let font = doc
            .add_external_font(Cursor::new(FONT))
            .map_err(|e| format!("font: {e}"))?;
        let layer = doc.get_page(page).get_layer(layer);
        let mut report = Report {
            doc,
            font,
            layer,
            pages: page_count(cover.count),
            page: 1,
            y: FIRST_TABLE_TOP,
            rows_on_page: 0,
            capacity: rows_per_page(FIRST_TABLE_TOP),
            categories: BTreeMap::new(),
            written: 0,
        };
        report.cover(cover);
        report.footer();
        report.table_header();
        Ok(report)
    }

    fn text(&self, text: &str, size: f32, x: f32, y: f32) {
        self.layer.use_text(text, size, Mm(x), Mm(y), &self.font);
    }

    fn rule(&self, y: f32) {
        self.layer.set_outline_color(grey());
        self.layer.set_outline_thickness(0.4);
        self.layer.add_line(Line {
            points: vec![
                (Point::new(Mm(MARGIN), Mm(y)), false),
                (Point::new(Mm(WIDTH - MARGIN), Mm(y)), false),
            ],
            is_closed: false,
        });
    }

    fn cover(&self, c: &Cover) {
        let top = HEIGHT - MARGIN - 6.0;
        self.layer.set_fill_color(black());
        self.text("Audit log report", 16.0, MARGIN, top);
        self.text(&truncate(&c.site, 80), 10.0, MARGIN, top - 7.0);
        self.layer.set_fill_color(grey());
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
            format!("Entries:       {}", app::model::thousands(c.count)),
        ];
        for (i, line) in lines.iter().enumerate() {
            self.text(line, 8.0, MARGIN, top - 15.0 - i as f32 * 4.6);
        }
        if c.count == 0 {
            self.layer.set_fill_color(black());
            self.text(
                "No entries match these filters.",
                9.0,
                MARGIN,
                FIRST_TABLE_TOP - 12.0,
            );
        }
    }

    fn footer(&self) {
        self.layer.set_fill_color(grey());
        let label = format!("page {} of {}", self.page, self.pages);
        let x = WIDTH - MARGIN - label.chars().count() as f32 * CHAR_MM;
        self.text(&label, TEXT_PT, x, MARGIN - 2.0);
        self.text("Trailkeep audit log", TEXT_PT, MARGIN, MARGIN - 2.0);
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
        self.layer.set_fill_color(black());
        for (title, _, x) in Self::columns_x() {
            self.text(title, TEXT_PT, x, self.y);
        }
        self.rule(self.y - 1.4);
        self.y -= ROW_MM + 0.6;
    }

    fn new_page(&mut self) {
        let (page, layer) = self.doc.add_page(Mm(WIDTH), Mm(HEIGHT), "page");
        self.layer = self.doc.get_page(page).get_layer(layer);
        self.page += 1;
        self.y = TABLE_TOP;
        self.rows_on_page = 0;
        self.capacity = rows_per_page(TABLE_TOP);
        self.footer();
    }

    /// Adds entries in order, starting pages as they fill.
    pub fn add(&mut self, entries: &[AuditEntry]) {
        for e in entries {
            if self.rows_on_page == self.capacity {
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
            // One text object per row, cells placed absolutely: a fraction of the operations
            // (and memory) of one object per cell.
            self.layer.begin_text_section();
            self.layer.set_font(&self.font, TEXT_PT);
            self.layer.set_fill_color(black());
            for ((_, width, x), cell) in Self::columns_x().zip(cells.iter()) {
                let width = if width == 0 {
                    Self::detail_chars()
                } else {
                    width
                };
                let failure_cell = failed && cell == "FAILURE";
                if failure_cell {
                    self.layer.set_fill_color(red());
                }
                self.layer
                    .set_text_matrix(TextMatrix::Translate(Mm(x).into(), Mm(self.y).into()));
                self.layer.write_text(truncate(cell, width), &self.font);
                if failure_cell {
                    self.layer.set_fill_color(black());
                }
            }
            self.layer.end_text_section();
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

    /// The summary page, then the document's bytes.
    pub fn finish(mut self) -> Result<Vec<u8>, String> {
        self.new_page();
        self.layer.set_fill_color(black());
        self.text("Summary", 12.0, MARGIN, self.y);
        self.y -= 8.0;
        let line = |report: &Report, y: f32, cols: [String; 4]| {
            let mut x = MARGIN;
            for (text, width) in cols.iter().zip([30usize, 12, 12, 12]) {
                report.text(text, 8.0, x, y);
                x += width as f32 * 8.0 * 0.602 * 25.4 / 72.0 + 2.0;
            }
        };
        line(
            &self,
            self.y,
            [
                "Action category".into(),
                "Success".into(),
                "Failure".into(),
                "Total".into(),
            ],
        );
        self.rule(self.y - 1.6);
        self.y -= 5.0;
        let (mut ok, mut failed) = (0, 0);
        for (category, (s, f)) in &self.categories {
            line(
                &self,
                self.y,
                [
                    truncate(category, 30),
                    app::model::thousands(*s),
                    app::model::thousands(*f),
                    app::model::thousands(s + f),
                ],
            );
            ok += s;
            failed += f;
            self.y -= 4.6;
        }
        self.rule(self.y + 3.0);
        line(
            &self,
            self.y - 1.0,
            [
                "All entries".into(),
                app::model::thousands(ok),
                app::model::thousands(failed),
                app::model::thousands(self.written),
            ],
        );
        self.doc
            .save_to_bytes()
            .map_err(|e| format!("writing the PDF: {e}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pages_hold_the_cover_the_rows_and_the_summary() {
        let first = rows_per_page(FIRST_TABLE_TOP);
        let per = rows_per_page(TABLE_TOP);
        assert!(first > 20 && per > first);
        assert_eq!(page_count(0), 2);
        assert_eq!(page_count(first), 2);
        assert_eq!(page_count(first + 1), 3);
        assert_eq!(page_count(first + per), 3);
        assert_eq!(page_count(first + per + 1), 4);
    }

    #[test]
    fn long_cells_are_cut_with_an_ellipsis() {
        assert_eq!(truncate("abc", 5), "abc");
        assert_eq!(truncate("abcdefgh", 5), "abcd…");
        assert_eq!(truncate("a\nb", 5), "a b");
    }
}
