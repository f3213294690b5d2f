//! Report model unit tests (the golden tests against a real daemon live in tests/tests/reports.rs).
