//! The TypeScript bindings are generated from the Rust types: this fails
//! when desktop/src/bindings.ts is stale (`LOKI_WRITE_BINDINGS=1` rewrites it).

#[test]
fn bindings_are_current() {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../src/bindings.ts");
    let fresh = loki_desktop::bindings();
    if std::env::var_os("LOKI_WRITE_BINDINGS").is_some() {
        std::fs::write(&path, &fresh).expect("write bindings");
        return;
    }
    let committed = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        committed == fresh,
        "desktop/src/bindings.ts is stale: run LOKI_WRITE_BINDINGS=1 cargo test -p loki-desktop --test bindings"
    );
}
