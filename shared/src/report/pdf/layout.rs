//! Page layout for the report PDF: A4 geometry, colours, wrapping by the
//! embedded font's metrics, and a cursor-based writer that breaks pages
//! (repeating table headers) and adds running heads and page numbers.

use printpdf::{Color, Line, LinePoint, Op, PaintMode, Point, Pt, Rect, Rgb, TextItem};

use super::fonts;

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

pub(super) fn text_width(s: &str, size: f32, bold: bool) -> f32 {
    fonts::width(s, size, bold)
}

/// Text as drawn: whitespace controls become spaces, and a character the
/// embedded face cannot draw becomes U+FFFD (visible, never dropped).
pub(super) fn printable(s: &str) -> String {
    s.chars()
        .map(|c| match c {
            '\t' | '\n' | '\r' => ' ',
            c if c.is_control() => '\u{fffd}',
            c if fonts::has_glyph(c) => c,
            _ => '\u{fffd}',
        })
        .collect()
}

/// Breaks text into lines no wider than `width`; words longer than a line
/// (hashes, ids) are cut.
pub(super) fn wrap(s: &str, size: f32, bold: bool, width: f32) -> Vec<String> {
    let mut lines = Vec::new();
    let mut line = String::new();
    for word in printable(s).split(' ') {
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
            // Cut on character boundaries (text is UTF-8).
            let mut cut = rest.len();
            while text_width(&rest[..cut], size, bold) > width {
                match rest[..cut].char_indices().next_back() {
                    Some((i, _)) if i > 0 => cut = i,
                    _ => break,
                }
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

/// A finished page: its drawing and whether it is landscape.
pub(super) struct Page {
    pub(super) ops: Vec<Op>,
    pub(super) landscape: bool,
}

pub(super) struct Writer {
    pages: Vec<Page>,
    ops: Vec<Op>,
    pub(super) y: f32,
    running_head: String,
    /// The page being written is A4 landscape (wide tables).
    landscape: bool,
}

impl Writer {
    pub(super) fn new(running_head: String) -> Self {
        Self {
            pages: Vec::new(),
            ops: Vec::new(),
            y: TOP,
            running_head,
            landscape: false,
        }
    }

    fn page_w(&self) -> f32 {
        if self.landscape {
            H
        } else {
            W
        }
    }

    fn page_h(&self) -> f32 {
        if self.landscape {
            W
        } else {
            H
        }
    }

    pub(super) fn content_w(&self) -> f32 {
        self.page_w() - 2.0 * MARGIN
    }

    /// A new portrait page.
    pub(super) fn new_page(&mut self) {
        self.start_page(false);
    }

    fn start_page(&mut self, landscape: bool) {
        let ops = std::mem::take(&mut self.ops);
        self.pages.push(Page {
            ops,
            landscape: self.landscape,
        });
        self.landscape = landscape;
        self.y = self.page_h() - (H - TOP);
        let head = self.running_head.clone();
        let (ph, pw) = (self.page_h(), self.page_w());
        self.text(MARGIN, ph - 34.0, SMALL, false, MUTED, &head);
        self.hline(MARGIN, pw - MARGIN, ph - 40.0, RULE, 0.5);
    }

    /// Starts a new page in the current orientation.
    fn next_page(&mut self) {
        self.start_page(self.landscape);
    }

    /// Starts a new page unless `height` still fits.
    pub(super) fn ensure(&mut self, height: f32) {
        if self.y - height < BOTTOM {
            self.next_page();
        }
    }

    pub(super) fn text(&mut self, x: f32, y: f32, size: f32, bold: bool, c: Rgb3, s: &str) {
        self.ops.extend([
            Op::StartTextSection,
            Op::SetFillColor { col: color(c) },
            Op::SetFont {
                font: fonts::handle(bold),
                size: Pt(size),
            },
            Op::SetTextCursor {
                pos: Point { x: Pt(x), y: Pt(y) },
            },
            Op::ShowText {
                items: vec![TextItem::Text(printable(s))],
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
        for line in wrap(s, size, bold, self.content_w() - indent) {
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
        let lines = wrap(s, BODY, false, self.content_w() - 14.0);
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
        // A wide table (a population: five columns of dense text) goes on
        // landscape pages, where its cells wrap half as much.
        if !t.rows.is_empty() && t.columns.len() >= 5 && !self.landscape {
            self.start_page(true);
        }
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
        let widths = column_widths(t, size, self.content_w());
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
                self.next_page();
                self.table_header(&header, &widths, lh, pad);
            }
            self.y -= height;
            let cw = self.content_w();
            if i % 2 == 1 {
                self.rect(MARGIN, self.y, cw, height, STRIPE);
            }
            self.cells(&cells, &widths, lh, pad, false);
            self.hline(MARGIN, MARGIN + cw, self.y, RULE, 0.4);
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
        self.rect(MARGIN, self.y, self.content_w(), height, HEADER_BG);
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

    /// A bar chart with both axes labelled: the y axis with its unit and
    /// scale (0, half, maximum), the x axis with dated ticks (UTC days).
    pub(super) fn chart(&mut self, c: &Chart) {
        let (h, label_h) = (130.0, 12.0);
        self.ensure(h + 76.0);
        self.gap(6.0);
        self.para(&c.title, BODY, true, INK, 0.0);
        self.gap(4.0);
        self.text(MARGIN, self.y - 6.0, SMALL, true, MUTED, &c.y_label);
        let max = c.points.iter().map(|p| p.1).max().unwrap_or(0);
        let base = self.y - h - 16.0;
        let left = MARGIN + 34.0;
        let width = self.content_w() - 34.0;
        self.line(
            &[(left, base + h), (left, base), (left + width, base)],
            MUTED,
            0.6,
        );
        // Scale: gridlines at the maximum and half of it, values right-aligned.
        let mut scale = vec![(0u64, base)];
        if max > 0 {
            scale.push((max, base + h));
            if max >= 2 {
                let half = max / 2;
                scale.push((half, base + (half as f32 / max as f32) * (h - 2.0)));
            }
        }
        for (v, y) in scale {
            if v > 0 {
                self.hline(left, left + width, y, RULE, 0.4);
            }
            let label = v.to_string();
            let lw = text_width(&label, SMALL, false);
            self.text(left - 4.0 - lw, y - 2.5, SMALL, false, MUTED, &label);
        }
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
        // Dated ticks: every day when few, else about seven evenly spaced
        // (always the first and the last day).
        let days = c.points.len();
        let ticks: Vec<usize> = if days <= 7 {
            (0..days).collect()
        } else {
            // Evenly stepped; the last day replaces a tick too close to it.
            let step = (days - 1).div_ceil(6);
            let mut t: Vec<usize> = (0..days).step_by(step).collect();
            if t.last().is_some_and(|l| days - 1 - l < step) {
                t.pop();
            }
            t.push(days - 1);
            t
        };
        for i in ticks {
            let x = left + (i as f32 + 0.5) * slot;
            self.line(&[(x, base), (x, base - 3.0)], MUTED, 0.5);
            let label = &c.points[i].0;
            let lw = text_width(label, SMALL, false);
            let lx = (x - lw / 2.0).clamp(left - 10.0, left + width - lw);
            self.text(lx, base - 3.0 - label_h + 2.0, SMALL, false, MUTED, label);
        }
        let total: u64 = c.points.iter().map(|p| p.1).sum();
        let note = format!(
            "{} ({days} day{}; {total} in total, at most {max} a day)",
            c.x_label,
            if days == 1 { "" } else { "s" }
        );
        let nw = text_width(&note, SMALL, true);
        let ny = base - 2.0 * label_h - 2.0;
        self.text(left + (width - nw) / 2.0, ny, SMALL, true, MUTED, &note);
        self.y = ny - 12.0;
    }

    pub(super) fn finish(mut self, footer: &str) -> Vec<Page> {
        let ops = std::mem::take(&mut self.ops);
        self.pages.push(Page {
            ops,
            landscape: self.landscape,
        });
        let n = self.pages.len();
        let mut pages = std::mem::take(&mut self.pages);
        for (i, page) in pages.iter_mut().enumerate() {
            let mut w = Writer::new(String::new());
            w.landscape = page.landscape;
            let pw = w.page_w();
            w.hline(MARGIN, pw - MARGIN, 40.0, RULE, 0.5);
            w.text(MARGIN, 28.0, SMALL, false, MUTED, footer);
            let label = format!("Page {} of {n}", i + 1);
            let lw = text_width(&label, SMALL, false);
            w.text(pw - MARGIN - lw, 28.0, SMALL, false, MUTED, &label);
            page.ops.extend(w.ops);
        }
        pages
    }
}

/// Column widths from content: every column first gets its longest word
/// (up to a cap, so ids and action names stay whole where they can), then
/// the rest of the page is shared in proportion to what each still wants.
pub(super) fn column_widths(t: &Table, size: f32, content_w: f32) -> Vec<f32> {
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
            let cell = printable(cell);
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
    if base >= content_w {
        return word.iter().map(|w| w / base * content_w).collect();
    }
    let extra: Vec<f32> = natural
        .iter()
        .zip(&word)
        .map(|(n, w)| (n - w).max(0.0))
        .collect();
    let want: f32 = extra.iter().sum();
    let room = content_w - base;
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
