//! LOKI's benchmarks: `benches/` (criterion, `cargo bench -p loki-bench`)
//! and `load.sh` (lokid against the Python peer under wrk). What they
//! measure and the figures: docs/PERFORMANCE.md.
