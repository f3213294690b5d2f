//! The daemon's layers point one way (docs/ARCHITECTURE.md): http/ ->
//! domain -> store/kv. The compiler cannot see module layering inside one
//! crate, so these read the source: a change that reaches around a layer
//! fails here, naming the file.

use std::path::{Path, PathBuf};

fn sources(dir: &Path) -> Vec<(PathBuf, String)> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).expect("read dir").flatten() {
            let p = entry.path();
            if p.is_dir() {
                stack.push(p);
            } else if p.extension().is_some_and(|e| e == "rs") {
                let text = std::fs::read_to_string(&p).expect("read");
                out.push((p, text));
            }
        }
    }
    out
}

fn src() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("src")
}

/// Code lines only: comments may name anything.
fn code(text: &str) -> impl Iterator<Item = &str> {
    text.lines().filter(|l| !l.trim_start().starts_with("//"))
}

/// Domain modules and the state they share know nothing of HTTP or of the
/// composition root, and no domain service takes the whole `AppState`: each
/// holds the parts it uses (built in `state.rs`).
#[test]
fn the_domain_imports_neither_http_nor_the_composition_root() {
    let mut found = Vec::new();
    for module in [
        "auth",
        "audit",
        "rbac",
        "tenancy",
        "documents",
        "store",
        "kv",
    ]
    .iter()
    .map(|m| src().join(m))
    .chain(["state.rs", "context.rs"].iter().map(|f| src().join(f)))
    {
        let files = if module.is_dir() {
            sources(&module)
        } else {
            vec![(
                module.clone(),
                std::fs::read_to_string(&module).expect("read"),
            )]
        };
        for (path, text) in files {
            for line in code(&text) {
                if line.contains("crate::http")
                    || line.contains("crate::app::")
                    || line.contains("use axum")
                    || line.contains("axum::")
                    || (line.contains("AppState") && !path.ends_with("state.rs"))
                {
                    found.push(format!("{}: {}", path.display(), line.trim()));
                }
            }
        }
    }
    assert!(found.is_empty(), "layering broken:\n{}", found.join("\n"));
}

/// Handlers reach tenant data only through domain functions that take the
/// `Tenant` capability an access decision hands out; only the health
/// probes talk to the store themselves.
#[test]
fn handlers_do_not_reach_the_store() {
    let mut found = Vec::new();
    for (path, text) in sources(&src().join("http")) {
        if path.ends_with("health.rs") {
            continue;
        }
        for line in code(&text) {
            if line.contains(".store.") || line.trim_start().starts_with(".store") {
                found.push(format!("{}: {}", path.display(), line.trim()));
            }
        }
    }
    assert!(
        found.is_empty(),
        "handlers calling the store directly:\n{}",
        found.join("\n")
    );
}

/// The state the domain shares is built from parts that know nothing of it:
/// every module `state.rs` imports leaves `crate::state` alone, so state and
/// domain do not import each other.
#[test]
fn the_shared_state_is_not_part_of_an_import_cycle() {
    let state = std::fs::read_to_string(src().join("state.rs")).expect("state.rs");
    let mut found = Vec::new();
    let mut checked = 0;
    for line in code(&state).filter(|l| l.starts_with("use crate::")) {
        let path: Vec<&str> = line
            .trim_start_matches("use crate::")
            .split("::")
            .take_while(|s| s.chars().all(|c| c.is_ascii_lowercase() || c == '_'))
            .collect();
        // The deepest file the path names: src/a/b.rs, src/a.rs or src/a/mod.rs.
        let file = (1..=path.len()).rev().find_map(|n| {
            let base = path[..n].iter().fold(src(), |p, s| p.join(s));
            [base.with_extension("rs"), base.join("mod.rs")]
                .into_iter()
                .find(|f| f.is_file())
        });
        let Some(file) = file else { continue };
        checked += 1;
        let text = std::fs::read_to_string(&file).expect("read");
        if code(&text).any(|l| l.contains("crate::state")) {
            found.push(format!("{} (imported as {line})", file.display()));
        }
    }
    assert!(checked >= 6, "state.rs imports {checked} modules");
    assert!(
        found.is_empty(),
        "imports of state.rs that import it back:\n{}",
        found.join("\n")
    );
}
