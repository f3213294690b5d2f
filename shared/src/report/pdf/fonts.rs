//! The report's typeface: DejaVu Sans (regular and bold), embedded in every
//! PDF so any European text (and Greek, Cyrillic) draws and extracts as
//! written. The font files ship in the repository (`shared/fonts/`, with
//! their licence); widths for wrapping come from the same files' metrics,
//! so what is measured is what is drawn.

use std::sync::OnceLock;

use printpdf::{FontId, ParsedFont, PdfDocument, PdfFontHandle};

static REGULAR_TTF: &[u8] = include_bytes!("../../../fonts/DejaVuSans.ttf");
static BOLD_TTF: &[u8] = include_bytes!("../../../fonts/DejaVuSans-Bold.ttf");

/// Fixed resource names: a random id would make the bytes differ per run.
const REGULAR_ID: &str = "DejaVuSans";
const BOLD_ID: &str = "DejaVuSans-Bold";

struct Face {
    font: ParsedFont,
    units_per_em: f32,
}

fn faces() -> &'static (Face, Face) {
    static FACES: OnceLock<(Face, Face)> = OnceLock::new();
    FACES.get_or_init(|| (parse(REGULAR_TTF, REGULAR_ID), parse(BOLD_TTF, BOLD_ID)))
}

fn parse(bytes: &[u8], name: &str) -> Face {
    let mut warnings = Vec::new();
    // The files are part of the build: failing to parse them is a build defect.
    let mut font = ParsedFont::from_bytes(bytes, 0, &mut warnings)
        .unwrap_or_else(|| panic!("the embedded font {name} does not parse"));
    font.font_name = Some(name.to_owned());
    let units_per_em = f32::from(font.units_per_em.max(1));
    Face { font, units_per_em }
}

fn face(bold: bool) -> &'static Face {
    let (regular, bold_face) = faces();
    if bold {
        bold_face
    } else {
        regular
    }
}

/// The handle text ops use.
pub(super) fn handle(bold: bool) -> PdfFontHandle {
    PdfFontHandle::External(FontId(if bold { BOLD_ID } else { REGULAR_ID }.to_owned()))
}

/// Registers both faces under their fixed ids.
pub(super) fn register(doc: &mut PdfDocument) {
    let (regular, bold) = faces();
    for (id, f) in [(REGULAR_ID, regular), (BOLD_ID, bold)] {
        doc.resources.fonts.map.insert(
            FontId(id.to_owned()),
            printpdf::PdfFont::new(f.font.clone()),
        );
    }
}

/// Whether the face draws `c` (it has a glyph other than .notdef).
pub(super) fn has_glyph(c: char) -> bool {
    face(false).font.lookup_glyph_index(u32::from(c)).is_some()
}

/// Width of `s` at `size` points.
pub(super) fn width(s: &str, size: f32, bold: bool) -> f32 {
    let f = face(bold);
    let units: u32 = s
        .chars()
        .map(|c| {
            let gid = f.font.lookup_glyph_index(u32::from(c)).unwrap_or(0);
            u32::from(f.font.get_glyph_width(gid).unwrap_or(0))
        })
        .sum();
    units as f32 / f.units_per_em * size
}
