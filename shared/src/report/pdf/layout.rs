//! Page layout for the report PDF: A4 geometry, colours, Helvetica
//! metrics and wrapping, and a cursor-based writer that breaks pages
//! (repeating table headers) and adds running heads and page numbers.

use printpdf::{
    BuiltinFont, Color, Line, LinePoint, Op, PaintMode, PdfFontHandle, Point, Pt, Rect, Rgb,
    TextItem,
};

use crate::report::{Chart, Table};

pub(super) const W: f32 = 595.0;
pub(super) const H: f32 = 842.0;
pub(super) const MARGIN: f32 = 50.0;
pub(super) const TOP: f32 = H - 56.0;
pub(super) const BOTTOM: f32 = 56.0;
pub(super) const CONTENT_W: f32 = W - 2.0 * MARGIN;
pub(super) const BODY: f32 = 9.5;
pub(super) const SMALL: f32 = 7.5;
pub(super) const CELL_LINES_MAX: usize = 14;
/// Rows of one population printed in the PDF (about 60 pages); the JSON
/// rendering always has every row.
pub(super) const PDF_ROWS_MAX: usize = 2_000;

#[derive(Clone, Copy)]
pub(super) struct Rgb3(pub f32, pub f32, pub f32);
pub(super) const INK: Rgb3 = Rgb3(0.13, 0.15, 0.18);
pub(super) const MUTED: Rgb3 = Rgb3(0.42, 0.45, 0.5);
pub(super) const ACCENT: Rgb3 = Rgb3(0.12, 0.31, 0.55);
pub(super) const GOOD: Rgb3 = Rgb3(0.11, 0.48, 0.25);
pub(super) const BAD: Rgb3 = Rgb3(0.72, 0.14, 0.14);
pub(super) const WARN: Rgb3 = Rgb3(0.75, 0.45, 0.05);
pub(super) const RULE: Rgb3 = Rgb3(0.82, 0.84, 0.87);
pub(super) const HEADER_BG: Rgb3 = Rgb3(0.91, 0.93, 0.96);
pub(super) const STRIPE: Rgb3 = Rgb3(0.97, 0.975, 0.98);

pub(super) fn color(c: Rgb3) -> Color {
    Color::Rgb(Rgb::new(c.0, c.1, c.2, None))
}

/// Helvetica advance widths (1/1000 em) for ASCII 32..=126 (Adobe AFM).
pub(super) const HELVETICA: [u16; 95] = [
    278, 278, 355, 556, 556, 889, 667, 191, 333, 333, 389, 584, 278, 333, 278, 278, 556, 556, 556,
    556, 556, 556, 556, 556, 556, 556, 278, 278, 584, 584, 584, 556, 1015, 667, 667, 722, 722, 667,
    611, 778, 722, 278, 500, 667, 556, 833, 722, 778, 667, 778, 722, 667, 611, 722, 667, 944, 667,
    667, 611, 278, 278, 278, 469, 556, 333, 556, 556, 500, 556, 556, 278, 556, 556, 222, 222, 500,
    222, 833, 556, 556, 556, 556, 333, 500, 278, 556, 500, 722, 500, 500, 500, 334, 260, 334, 584,
];

pub(super) fn text_width(s: &str, size: f32, bold: bool) -> f32 {
    let units: u32 = s
        .bytes()
        .map(|b| {
            u32::from(
                HELVETICA
                    .get(usize::from(b.saturating_sub(32)))
                    .copied()
                    .unwrap_or(556),
            )
        })
        .sum();
    // Bold is a little wider; overestimating only wraps a little earlier.
    let factor = if bold { 1.07 } else { 1.0 };
    units as f32 / 1000.0 * size * factor
}

/// The built-in fonts speak WinAnsi; keep to printable ASCII so every
/// glyph draws and extracts as written.
pub(super) fn ascii(s: &str) -> String {
    s.chars()
        .map(|c| match c {
            ' '..='~' => c.to_string(),
            '\u{2014}' | '\u{2013}' => "-".into(),
            '\u{2018}' | '\u{2019}' => "'".into(),
            '\u{201c}' | '\u{201d}' => "\"".into(),
            '\u{2026}' => "...".into(),
            '\u{00b1}' => "+/-".into(),
            '\u{2265}' => ">=".into(),
            '\u{2264}' => "<=".into(),
            '\u{2192}' => "->".into(),
            '\t' | '\n' | '\r' => " ".into(),
            _ => "?".into(),
        })
        .collect()
}

/// Breaks text into lines no wider than `width`; words longer than a line
/// (hashes, ids) are cut.
pub(super) fn wrap(s: &str, size: f32, bold: bool, width: f32) -> Vec<String> {
    let mut lines = Vec::new();
    let mut line = String::new();
    for word in ascii(s).split(' ') {
        let candidate = if line.is_empty() {
            word.to_owned()
        } else {
            format!("{line} {word}")
        };
        if text_width(&candidate, size, bold) <= width {
            line = candidate;
            continue;
        }
        if !line.is_empty() {
            lines.push(std::mem::take(&mut line));
        }
        let mut rest = word.to_owned();
        while text_width(&rest, size, bold) > width {
            let mut cut = rest.len();
            while cut > 1 && text_width(&rest[..cut], size, bold) > width {
                cut -= 1;
            }
            // Prefer to break after a separator (ids, dotted names, JSON).
            if let Some(sep) = rest[..cut].rfind(['-', '_', '.', ',', '/', ':']) {
                if sep + 1 >= cut / 2 {
                    cut = sep + 1;
                }
            }
            lines.push(rest[..cut].to_owned());
            rest = rest[cut..].to_owned();
        }
        line = rest;
    }
    if !line.is_empty() || lines.is_empty() {
        lines.push(line);
    }
    lines
}

pub(super) struct Writer {
    pages: Vec<Vec<Op>>,
    ops: Vec<Op>,
    pub(super) y: f32,
    running_head: String,
}

impl Writer {
    pub(super) fn new(running_head: String) -> Self {
        Self {
            pages: Vec::new(),
            ops: Vec::new(),
            y: TOP,
            running_head,
        }
    }

    pub(super) fn new_page(&mut self) {
        let page = std::mem::take(&mut self.ops);
        self.pages.push(page);
        self.y = TOP;
        let head = self.running_head.clone();
        self.text(MARGIN, H - 34.0, SMALL, false, MUTED, &head);
        self.hline(MARGIN, W - MARGIN, H - 40.0, RULE, 0.5);
    }

    /// Starts a new page unless `height` still fits.
    pub(super) fn ensure(&mut self, height: f32) {
        if self.y - height < BOTTOM {
            self.new_page();
        }
    }

    pub(super) fn text(&mut self, x: f32, y: f32, size: f32, bold: bool, c: Rgb3, s: &str) {
        let font = if bold {
            BuiltinFont::HelveticaBold
        } else {
            BuiltinFont::Helvetica
        };
        self.ops.extend([
            Op::StartTextSection,
            Op::SetFillColor { col: color(c) },
            Op::SetFont {
                font: PdfFontHandle::Builtin(font),
                size: Pt(size),
            },
            Op::SetTextCursor {
                pos: Point { x: Pt(x), y: Pt(y) },
            },
            Op::ShowText {
                items: vec![TextItem::Text(ascii(s))],
            },
            Op::EndTextSection,
        ]);
    }

    pub(super) fn rect(&mut self, x: f32, y: f32, w: f32, h: f32, c: Rgb3) {
        self.ops.extend([
            Op::SetFillColor { col: color(c) },
            Op::DrawRectangle {
                rectangle: Rect {
                    x: Pt(x),
                    y: Pt(y),
                    width: Pt(w),
                    height: Pt(h),
                    mode: Some(PaintMode::Fill),
                    winding_order: None,
                },
            },
        ]);
    }

    pub(super) fn hline(&mut self, x1: f32, x2: f32, y: f32, c: Rgb3, thickness: f32) {
        self.line(&[(x1, y), (x2, y)], c, thickness);
    }

    pub(super) fn line(&mut self, points: &[(f32, f32)], c: Rgb3, thickness: f32) {
        self.ops.extend([
            Op::SetOutlineColor { col: color(c) },
            Op::SetOutlineThickness { pt: Pt(thickness) },
            Op::DrawLine {
                line: Line {
                    points: points
                        .iter()
                        .map(|(x, y)| LinePoint {
                            p: Point {
                                x: Pt(*x),
                                y: Pt(*y),
                            },
                            bezier: false,
                        })
                        .collect(),
                    is_closed: false,
                },
            },
        ]);
    }

    /// A wrapped paragraph at the cursor.
    pub(super) fn para(&mut self, s: &str, size: f32, bold: bool, c: Rgb3, indent: f32) {
        let lh = size * 1.35;
        for line in wrap(s, size, bold, CONTENT_W - indent) {
            self.ensure(lh);
            self.y -= lh;
            self.text(MARGIN + indent, self.y + size * 0.25, size, bold, c, &line);
        }
    }

    pub(super) fn gap(&mut self, h: f32) {
        self.y -= h;
    }

    pub(super) fn heading(&mut self, s: &str, size: f32) {
        self.ensure(size * 2.6 + 40.0);
        self.gap(size * 0.8);
        self.para(s, size, true, ACCENT, 0.0);
        self.gap(size * 0.35);
    }

    pub(super) fn bullet(&mut self, s: &str, c: Rgb3) {
        let lines = wrap(s, BODY, false, CONTENT_W - 14.0);
        let lh = BODY * 1.35;
        for (i, line) in lines.iter().enumerate() {
            self.ensure(lh);
            self.y -= lh;
            if i == 0 {
                self.rect(MARGIN + 3.0, self.y + BODY * 0.45, 3.0, 3.0, c);
            }
            self.text(MARGIN + 14.0, self.y + BODY * 0.25, BODY, false, c, line);
        }
    }

    pub(super) fn table(&mut self, t: &Table) {
        let size = SMALL;
        let lh = size * 1.3;
        let pad = 3.0;
        self.ensure(lh * 4.0 + 20.0);
        self.gap(6.0);
        self.para(
            &format!("{} ({} rows)", t.title, t.rows.len()),
            BODY,
            true,
            INK,
            0.0,
        );
        if t.rows.len() > PDF_ROWS_MAX {
            self.para(
                &format!(
                    "The first {PDF_ROWS_MAX} rows are printed; the JSON rendering of this report (lokid report ... -o report.json) carries all {}.",
                    t.rows.len()
                ),
                SMALL,
                false,
                MUTED,
                0.0,
            );
        }
        self.gap(2.0);
        if t.rows.is_empty() {
            self.para("None in the period.", size, false, MUTED, 0.0);
            return;
        }
        let widths = column_widths(t, size);
        let header: Vec<Vec<String>> = t
            .columns
            .iter()
            .zip(&widths)
            .map(|(c, w)| wrap(c, size, true, w - 2.0 * pad))
            .collect();
        self.table_header(&header, &widths, lh, pad);
        for (i, row) in t.rows.iter().take(PDF_ROWS_MAX).enumerate() {
            let cells: Vec<Vec<String>> = row
                .iter()
                .zip(&widths)
                .map(|(c, w)| {
                    let mut lines = wrap(c, size, false, w - 2.0 * pad);
                    // Said, not silent: the JSON rendering has the whole value.
                    if lines.len() > CELL_LINES_MAX {
                        let more = lines.len() - CELL_LINES_MAX;
                        lines.truncate(CELL_LINES_MAX);
                        lines.push(format!("[{more} more lines: see the JSON rendering]"));
                    }
                    lines
                })
                .collect();
            let height = cells.iter().map(Vec::len).max().unwrap_or(1) as f32 * lh + 2.0 * pad;
            if self.y - height < BOTTOM {
                self.new_page();
                self.table_header(&header, &widths, lh, pad);
            }
            self.y -= height;
            if i % 2 == 1 {
                self.rect(MARGIN, self.y, CONTENT_W, height, STRIPE);
            }
            self.cells(&cells, &widths, lh, pad, false);
            self.hline(MARGIN, MARGIN + CONTENT_W, self.y, RULE, 0.4);
        }
        self.gap(4.0);
    }

    pub(super) fn table_header(
        &mut self,
        header: &[Vec<String>],
        widths: &[f32],
        lh: f32,
        pad: f32,
    ) {
        let height = header.iter().map(Vec::len).max().unwrap_or(1) as f32 * lh + 2.0 * pad;
        self.y -= height;
        self.rect(MARGIN, self.y, CONTENT_W, height, HEADER_BG);
        self.cells(header, widths, lh, pad, true);
    }

    pub(super) fn cells(
        &mut self,
        cells: &[Vec<String>],
        widths: &[f32],
        lh: f32,
        pad: f32,
        bold: bool,
    ) {
        let top = self.y + cells.iter().map(Vec::len).max().unwrap_or(1) as f32 * lh + 2.0 * pad;
        let mut x = MARGIN;
        for (lines, w) in cells.iter().zip(widths) {
            for (j, line) in lines.iter().enumerate() {
                let y = top - pad - (j as f32 + 1.0) * lh + SMALL * 0.3;
                let c = match line.as_str() {
                    "NO" | "Exceptions" => BAD,
                    "Effective" => GOOD,
                    "Not tested" => WARN,
                    _ => INK,
                };
                self.text(x + pad, y, SMALL, bold, c, line);
            }
            x += w;
        }
    }

    pub(super) fn chart(&mut self, c: &Chart) {
        let (h, label_h) = (130.0, 14.0);
        self.ensure(h + 50.0);
        self.gap(6.0);
        self.para(&c.title, BODY, true, INK, 0.0);
        let max = c.points.iter().map(|p| p.1).max().unwrap_or(0);
        let base = self.y - h - 4.0;
        let left = MARGIN + 34.0;
        let width = CONTENT_W - 34.0;
        // Axes and the scale.
        self.line(
            &[(left, base + h), (left, base), (left + width, base)],
            MUTED,
            0.6,
        );
        self.hline(left, left + width, base + h, RULE, 0.4);
        self.text(
            MARGIN,
            base + h - 3.0,
            SMALL,
            false,
            MUTED,
            &max.to_string(),
        );
        self.text(MARGIN + 20.0, base - 2.0, SMALL, false, MUTED, "0");
        if c.points.is_empty() {
            self.text(
                left + 8.0,
                base + h / 2.0,
                BODY,
                false,
                MUTED,
                "No events in the period.",
            );
        }
        let n = c.points.len().max(1) as f32;
        let slot = width / n;
        for (i, (_, v)) in c.points.iter().enumerate() {
            if *v == 0 || max == 0 {
                continue;
            }
            let bh = (*v as f32 / max as f32) * (h - 2.0);
            let bw = (slot * 0.7).clamp(0.8, 18.0);
            self.rect(
                left + i as f32 * slot + (slot - bw) / 2.0,
                base,
                bw,
                bh,
                ACCENT,
            );
        }
        if let (Some(first), Some(last)) = (c.points.first(), c.points.last()) {
            self.text(left, base - label_h, SMALL, false, MUTED, &first.0);
            let lw = text_width(&last.0, SMALL, false);
            self.text(
                left + width - lw,
                base - label_h,
                SMALL,
                false,
                MUTED,
                &last.0,
            );
            let total: u64 = c.points.iter().map(|p| p.1).sum();
            let days = c.points.len();
            let note = format!(
                "{days} day{}, {total} in total, at most {max} a day",
                if days == 1 { "" } else { "s" }
            );
            let nw = text_width(&note, SMALL, false);
            self.text(
                left + (width - nw) / 2.0,
                base - label_h,
                SMALL,
                false,
                MUTED,
                &note,
            );
        }
        self.y = base - label_h - 10.0;
    }

    pub(super) fn finish(mut self, footer: &str) -> Vec<Vec<Op>> {
        let last = std::mem::take(&mut self.ops);
        self.pages.push(last);
        let n = self.pages.len();
        let mut pages = std::mem::take(&mut self.pages);
        for (i, page) in pages.iter_mut().enumerate() {
            let mut w = Writer::new(String::new());
            w.hline(MARGIN, W - MARGIN, 40.0, RULE, 0.5);
            w.text(MARGIN, 28.0, SMALL, false, MUTED, footer);
            let label = format!("Page {} of {n}", i + 1);
            let lw = text_width(&label, SMALL, false);
            w.text(W - MARGIN - lw, 28.0, SMALL, false, MUTED, &label);
            page.extend(w.ops);
        }
        pages
    }
}

/// Column widths from content: every column first gets its longest word
/// (up to a cap, so ids and action names stay whole where they can), then
/// the rest of the page is shared in proportion to what each still wants.
pub(super) fn column_widths(t: &Table, size: f32) -> Vec<f32> {
    const PAD: f32 = 8.0;
    const WORD_CAP: f32 = 105.0;
    let n = t.columns.len().max(1);
    let mut natural: Vec<f32> = vec![0.0; n];
    let mut word: Vec<f32> = vec![0.0; n];
    let header = t.columns.iter().map(|c| (c, true));
    for row in std::iter::once(header.collect::<Vec<_>>()).chain(
        t.rows
            .iter()
            .take(500)
            .map(|r| r.iter().map(|c| (c, false)).collect()),
    ) {
        for (i, (cell, bold)) in row.into_iter().enumerate().take(n) {
            let cell = ascii(cell);
            natural[i] = natural[i].max(text_width(&cell, size, bold).min(320.0) + PAD);
            // Long ids break at a hyphen near their middle: half will do.
            let longest = cell
                .split(' ')
                .map(|w| {
                    let full = text_width(w, size, bold);
                    if w.len() > 20 && w.contains('-') {
                        full / 2.0
                    } else {
                        full
                    }
                })
                .fold(0.0, f32::max);
            word[i] = word[i].max(longest.min(WORD_CAP) + PAD);
        }
    }
    let base: f32 = word.iter().sum();
    if base >= CONTENT_W {
        return word.iter().map(|w| w / base * CONTENT_W).collect();
    }
    let extra: Vec<f32> = natural
        .iter()
        .zip(&word)
        .map(|(n, w)| (n - w).max(0.0))
        .collect();
    let want: f32 = extra.iter().sum();
    let room = CONTENT_W - base;
    word.iter()
        .zip(&extra)
        .map(|(w, e)| {
            if want > 0.0 {
                w + e / want * room
            } else {
                w + room / n as f32
            }
        })
        .collect()
}
