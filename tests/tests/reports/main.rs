//! Golden tests of the compliance reports: a scripted scenario against a
//! real daemon produces a bundle and a snapshot; the report model's figures
//! and populations are checked, the PDF's text is extracted (lopdf),
//! the PDF is reproducible byte for byte, and a tampered bundle says so on
//! page 1.
//!
//! One real-daemon scenario (scenario.rs) shared by the tests of each
//! framework and of integrity.

mod frameworks;
mod integrity;
mod scenario;
mod soc2;
