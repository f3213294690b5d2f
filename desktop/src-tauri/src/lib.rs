//! LOKI Desktop. The Rust side owns everything sensitive — the daemon
//! client, the tokens (OS keyring), pinned keys and witness files, report
//! generation — and the web view calls it through typed commands.

pub mod bundle;
pub mod client;
pub mod commands;
pub mod error;
pub mod ops;
pub mod session;
pub mod state;
pub mod trust;
pub mod vault;

use std::sync::Arc;

use tauri::Manager;

/// The command set, as tauri-specta sees it (also what the TypeScript
/// bindings are generated from).
pub fn specta_builder() -> tauri_specta::Builder<tauri::Wry> {
    use commands::*;
    // Seqs and counts stay far below 2^53, where a JS number is exact.
    tauri_specta::Builder::<tauri::Wry>::new()
        .dangerously_cast_bigints_to_number()
        .commands(tauri_specta::collect_commands![
            auth::sign_in,
            auth::verify_totp,
            auth::sign_in_sso,
            auth::last_sign_in,
            auth::resume_session,
            auth::switch_org,
            auth::sign_out,
            audit::search_events,
            audit::get_event,
            audit::org_people,
            audit::chain_status,
            audit::export_audit,
            offline::open_bundle,
            offline::close_bundle,
            reports::generate_report,
            reports::save_report,
            reports::cancel_task,
            reports::open_saved_report,
        ])
}

/// The TypeScript bindings (desktop/src/bindings.ts).
pub fn bindings() -> String {
    let builder = specta_builder();
    let path = std::env::temp_dir().join(format!("loki-bindings-{}.ts", std::process::id()));
    builder
        .export(
            specta_typescript::Typescript::default().header("// Generated from the Rust types by tauri-specta (cargo test -p loki-desktop bindings). Do not edit.\n// @ts-nocheck"),
            &path,
        )
        .expect("bindings export");
    let text = std::fs::read_to_string(&path).expect("bindings read");
    let _ = std::fs::remove_file(&path);
    text
}

pub fn run() {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("LOKI_DESKTOP_LOG")
                .unwrap_or_else(|_| "warn".into()),
        )
        .init();
    let builder = specta_builder();
    let result = tauri::Builder::default()
        // One window per user: two copies would share the keyring entry and
        // spend the same refresh token (the server then ends the session).
        .plugin(tauri_plugin_single_instance::init(|app, _args, _cwd| {
            if let Some(w) = app.get_webview_window("main") {
                let _ = w.unminimize();
                let _ = w.set_focus();
            }
        }))
        .plugin(tauri_plugin_dialog::init())
        .plugin(tauri_plugin_opener::init())
        .plugin(tauri_plugin_window_state::Builder::default().build())
        // Saved as it changes, not only at exit: a session ended by the
        // system (or a test driver) still reopens at the size it had.
        .on_window_event(|window, event| {
            use tauri_plugin_window_state::{AppHandleExt, StateFlags};
            if matches!(
                event,
                tauri::WindowEvent::Resized(_) | tauri::WindowEvent::Moved(_)
            ) {
                let _ = window.app_handle().save_window_state(StateFlags::all());
            }
        })
        .invoke_handler(builder.invoke_handler())
        .setup(move |app| {
            builder.mount_events(app);
            let dir = app
                .path()
                .app_data_dir()
                .map_err(|e| format!("no data folder: {e}"))?;
            std::fs::create_dir_all(&dir)?;
            app.manage(state::AppState::new(Arc::new(vault::KeyringVault), dir));
            Ok(())
        })
        .run(tauri::generate_context!());
    if let Err(e) = result {
        eprintln!("LOKI Desktop could not start: {e}");
        std::process::exit(1);
    }
}
