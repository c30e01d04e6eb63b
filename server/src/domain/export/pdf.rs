//! A PDF written as it is drawn: each page leaves (as bytes to send) as soon as it is finished,
//! so a document of any length holds one page in memory. It writes only what the report needs:
//! one embedded TrueType font addressed by glyph id (`Identity-H`) with a Unicode map of the
//! glyphs used (so all text can be searched and copied, characters beyond the Basic
//! Multilingual Plane as UTF-16 surrogate pairs), text, straight lines, RGB colours, and named
//! form XObjects whose content is written last, for what is known only at the end (the page
//! count, the seq range) but shown on earlier pages.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::io::Write as _;

use owned_ttf_parser::{AsFaceRef, Face, OwnedFace};

/// Object numbers fixed before any page: the catalog, the page tree, the font's four objects,
/// then one per late XObject; pages take two each (content, page) from there on.
const CATALOG: usize = 1;
const PAGES: usize = 2;
const FONT: usize = 3;
const CID_FONT: usize = 4;
const DESCRIPTOR: usize = 5;
const FONT_FILE: usize = 6;
const TO_UNICODE: usize = 7;
const FIRST_LATE: usize = 8;

pub struct PdfWriter {
    font_bytes: &'static [u8],
    face: OwnedFace,
    /// Page size in points.
    width: f32,
    height: f32,
    /// Names of the late XObjects (`/Name Do` on pages), numbered from [`FIRST_LATE`].
    late: Vec<String>,
    /// Bytes not yet taken by the caller, and how many were taken before them.
    out: Vec<u8>,
    taken: usize,
    /// Byte offset of every object written (index = object number; 0 unused).
    offsets: Vec<Option<usize>>,
    next_id: usize,
    pages: Vec<usize>,
    /// The current page's content operators.
    content: String,
    /// Glyphs used, with the character each stands for and its advance (in 1/1000 em).
    used: BTreeMap<u16, (char, u32)>,
}

impl PdfWriter {
    /// A document of `width` × `height` points whose pages may show the XObjects named `late`.
    pub fn new(
        font: &'static [u8],
        width: f32,
        height: f32,
        late: &[&str],
    ) -> Result<Self, String> {
        let face = OwnedFace::from_vec(font.to_vec(), 0).map_err(|e| format!("font: {e}"))?;
        let mut w = PdfWriter {
            font_bytes: font,
            face,
            width,
            height,
            late: late.iter().map(|s| s.to_string()).collect(),
            out: Vec::with_capacity(64 * 1024),
            taken: 0,
            offsets: vec![None; FIRST_LATE + late.len()],
            next_id: FIRST_LATE + late.len(),
            pages: Vec::new(),
            content: String::with_capacity(16 * 1024),
            used: BTreeMap::new(),
        };
        w.out.extend_from_slice(b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n");
        Ok(w)
    }

    fn face(&self) -> &Face<'_> {
        self.face.as_face_ref()
    }

    /// The glyph ids of `text` as hex, recording each glyph used.
    fn glyphs(&mut self, text: &str) -> String {
        let mut hex = String::with_capacity(text.len() * 4);
        for c in text.chars() {
            let (gid, advance) = {
                let face = self.face();
                let gid = face.glyph_index(c).map_or(0, |g| g.0);
                let units = f32::from(face.units_per_em().max(1));
                let advance = face
                    .glyph_hor_advance(owned_ttf_parser::GlyphId(gid))
                    .map_or(0.0, f32::from);
                (gid, (advance * 1000.0 / units).round() as u32)
            };
            if gid != 0 {
                self.used.entry(gid).or_insert((c, advance));
            }
            let _ = write!(hex, "{gid:04x}");
        }
        hex
    }

    /// `text` at (`x`, `y`) points, `size` points high, in the fill colour.
    pub fn text(&mut self, text: &str, size: f32, x: f32, y: f32) {
        let hex = self.glyphs(text);
        let _ = writeln!(
            self.content,
            "BT /F1 {size:.2} Tf {x:.2} {y:.2} Td <{hex}> Tj ET"
        );
    }

    pub fn fill(&mut self, (r, g, b): (f32, f32, f32)) {
        let _ = writeln!(self.content, "{r:.3} {g:.3} {b:.3} rg");
    }

    /// A straight line, `width` points wide, in `colour`.
    pub fn line(
        &mut self,
        (x1, y1): (f32, f32),
        (x2, y2): (f32, f32),
        width: f32,
        colour: (f32, f32, f32),
    ) {
        let (r, g, b) = colour;
        let _ = writeln!(
            self.content,
            "{r:.3} {g:.3} {b:.3} RG {width:.2} w {x1:.2} {y1:.2} m {x2:.2} {y2:.2} l S"
        );
    }

    /// Shows the late XObject `name` with its origin at (`x`, `y`).
    pub fn place(&mut self, name: &str, x: f32, y: f32) {
        let _ = writeln!(self.content, "q 1 0 0 1 {x:.2} {y:.2} cm /{name} Do Q");
    }

    fn begin_object(&mut self, id: usize) {
        if self.offsets.len() <= id {
            self.offsets.resize(id + 1, None);
        }
        self.offsets[id] = Some(self.taken + self.out.len());
        let _ = writeln!(self.out, "{id} 0 obj");
    }

    fn object(&mut self, id: usize, body: &str) {
        self.begin_object(id);
        self.out.extend_from_slice(body.as_bytes());
        self.out.extend_from_slice(b"\nendobj\n");
    }

    /// A stream object, Flate-compressed, with `dict` entries besides its length and filter.
    fn stream(&mut self, id: usize, dict: &str, data: &[u8]) {
        let mut z = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::default());
        z.write_all(data).expect("compressing to memory");
        let packed = z.finish().expect("compressing to memory");
        self.begin_object(id);
        let _ = write!(
            self.out,
            "<< {dict} /Length {} /Filter /FlateDecode >>\nstream\n",
            packed.len()
        );
        self.out.extend_from_slice(&packed);
        self.out.extend_from_slice(b"\nendstream\nendobj\n");
    }

    fn resources(&self) -> String {
        let xobjects: String = self
            .late
            .iter()
            .enumerate()
            .map(|(i, name)| format!("/{name} {} 0 R ", FIRST_LATE + i))
            .collect();
        format!("<< /Font << /F1 {FONT} 0 R >> /XObject << {xobjects}>> >>")
    }

    /// Ends the page drawn so far (its bytes are ready to take) and starts the next.
    pub fn end_page(&mut self) {
        let content_id = self.next_id;
        let page_id = self.next_id + 1;
        self.next_id += 2;
        let content = std::mem::take(&mut self.content);
        self.stream(content_id, "", content.as_bytes());
        let resources = self.resources();
        let page = format!(
            "<< /Type /Page /Parent {PAGES} 0 R /MediaBox [0 0 {:.2} {:.2}] /Resources {resources} /Contents {content_id} 0 R >>",
            self.width, self.height
        );
        self.object(page_id, &page);
        self.pages.push(page_id);
    }

    /// Pages ended so far.
    pub fn page_count(&self) -> usize {
        self.pages.len()
    }

    /// The bytes written since the last call.
    pub fn take(&mut self) -> Vec<u8> {
        self.taken += self.out.len();
        std::mem::take(&mut self.out)
    }

    /// Writes the late XObjects (each drawn by `draw` into its own content), the font, the page
    /// tree, the catalog and the cross-reference table; returns the last bytes.
    pub fn finish(mut self, mut draw: impl FnMut(&str, &mut PdfWriter)) -> Vec<u8> {
        if !self.content.is_empty() {
            self.end_page();
        }
        for (i, name) in self.late.clone().iter().enumerate() {
            draw(name, &mut self);
            let content = std::mem::take(&mut self.content);
            let dict = format!(
                "/Type /XObject /Subtype /Form /BBox [0 0 {:.2} {:.2}] /Resources << /Font << /F1 {FONT} 0 R >> >>",
                self.width, self.height
            );
            self.stream(FIRST_LATE + i, &dict, content.as_bytes());
        }
        self.font_objects();
        let kids: String = self.pages.iter().map(|p| format!("{p} 0 R ")).collect();
        let tree = format!(
            "<< /Type /Pages /Kids [{kids}] /Count {} >>",
            self.pages.len()
        );
        self.object(PAGES, &tree);
        self.object(CATALOG, &format!("<< /Type /Catalog /Pages {PAGES} 0 R >>"));
        let xref_at = self.taken + self.out.len();
        let count = self.offsets.len();
        let mut xref = format!("xref\n0 {count}\n0000000000 65535 f \n");
        for offset in &self.offsets[1..] {
            match offset {
                Some(o) => {
                    let _ = writeln!(xref, "{o:010} 00000 n ");
                }
                None => xref.push_str("0000000000 65535 f \n"),
            }
        }
        let _ = write!(
            xref,
            "trailer\n<< /Size {count} /Root {CATALOG} 0 R >>\nstartxref\n{xref_at}\n%%EOF\n"
        );
        self.out.extend_from_slice(xref.as_bytes());
        self.take()
    }

    /// The Type0 font, its CID font (widths of the glyphs used), descriptor, file and Unicode map.
    fn font_objects(&mut self) {
        let (ascender, descender, bbox, cap) = {
            let face = self.face();
            let units = f32::from(face.units_per_em().max(1));
            let scale = |v: i16| (f32::from(v) * 1000.0 / units).round() as i32;
            let b = face.global_bounding_box();
            (
                scale(face.ascender()),
                scale(face.descender()),
                [
                    scale(b.x_min),
                    scale(b.y_min),
                    scale(b.x_max),
                    scale(b.y_max),
                ],
                face.capital_height().map_or(700, scale),
            )
        };
        let name = "DejaVuSansMono";
        self.object(
            FONT,
            &format!(
                "<< /Type /Font /Subtype /Type0 /BaseFont /{name} /Encoding /Identity-H \
                 /DescendantFonts [{CID_FONT} 0 R] /ToUnicode {TO_UNICODE} 0 R >>"
            ),
        );
        let widths: String = self
            .used
            .iter()
            .map(|(gid, (_, w))| format!("{gid} [{w}] "))
            .collect();
        self.object(
            CID_FONT,
            &format!(
                "<< /Type /Font /Subtype /CIDFontType2 /BaseFont /{name} \
                 /CIDSystemInfo << /Registry (Adobe) /Ordering (Identity) /Supplement 0 >> \
                 /FontDescriptor {DESCRIPTOR} 0 R /CIDToGIDMap /Identity /DW 602 /W [{widths}] >>"
            ),
        );
        self.object(
            DESCRIPTOR,
            &format!(
                "<< /Type /FontDescriptor /FontName /{name} /Flags 33 /FontBBox [{} {} {} {}] \
                 /ItalicAngle 0 /Ascent {ascender} /Descent {descender} /CapHeight {cap} /StemV 80 \
                 /FontFile2 {FONT_FILE} 0 R >>",
                bbox[0], bbox[1], bbox[2], bbox[3]
            ),
        );
        let font_bytes = self.font_bytes;
        self.stream(
            FONT_FILE,
            &format!("/Length1 {}", font_bytes.len()),
            font_bytes,
        );
        let cmap = to_unicode(&self.used);
        self.stream(TO_UNICODE, "", cmap.as_bytes());
    }
}

/// The `ToUnicode` CMap of the glyphs used: each glyph id to its character in UTF-16BE (a
/// surrogate pair beyond the Basic Multilingual Plane), at most 100 per block as PDF requires.
pub fn to_unicode(used: &BTreeMap<u16, (char, u32)>) -> String {
    let mut out = String::from(
        "/CIDInit /ProcSet findresource begin\n12 dict begin\nbegincmap\n\
         /CIDSystemInfo << /Registry (Adobe) /Ordering (UCS) /Supplement 0 >> def\n\
         /CMapName /Adobe-Identity-UCS def\n/CMapType 2 def\n\
         1 begincodespacerange\n<0000> <ffff>\nendcodespacerange\n",
    );
    let entries: Vec<(&u16, &(char, u32))> = used.iter().collect();
    for block in entries.chunks(100) {
        let _ = writeln!(out, "{} beginbfchar", block.len());
        for (gid, (c, _)) in block {
            let mut units = [0u16; 2];
            let hex: String = c
                .encode_utf16(&mut units)
                .iter()
                .map(|u| format!("{u:04x}"))
                .collect();
            let _ = writeln!(out, "<{gid:04x}> <{hex}>");
        }
        out.push_str("endbfchar\n");
    }
    out.push_str("endcmap\nCMapName currentdict /CMap defineresource pop\nend\nend\n");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_unicode_map_writes_surrogate_pairs_in_blocks_of_100() {
        let mut used = BTreeMap::new();
        used.insert(0x41, ('A', 602));
        used.insert(0xab3, ('𝐀', 602));
        let cmap = to_unicode(&used);
        assert!(cmap.contains("2 beginbfchar\n<0041> <0041>\n<0ab3> <d835dc00>\nendbfchar"));
        let many: BTreeMap<u16, (char, u32)> = (1..=150u16).map(|g| (g, ('x', 602))).collect();
        let cmap = to_unicode(&many);
        assert!(cmap.contains("100 beginbfchar") && cmap.contains("50 beginbfchar"));
    }
}
