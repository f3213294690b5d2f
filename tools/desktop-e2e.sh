#!/usr/bin/env bash
# Runs tools/desktop_e2e.py with what a desktop session provides: an X display
# (Xvfb), a D-Bus session bus and an unlocked gnome-keyring, in a fresh HOME.
# Needs the built binaries (lokid, loki-desktop) and the apt packages named in
# tools/test.
set -euo pipefail
cd "$(dirname "$0")/.."
target="${CARGO_TARGET_DIR:-target}"
export LOKID_BIN="${LOKID_BIN:-$target/debug/lokid}"
export DESKTOP_BIN="${DESKTOP_BIN:-$target/debug/loki-desktop}"
export LOKID_BIN DESKTOP_BIN
LOKID_BIN="$(realpath "$LOKID_BIN")"; DESKTOP_BIN="$(realpath "$DESKTOP_BIN")"
export E2E_TMP="$(mktemp -d)"
export HOME="$E2E_TMP/home"
mkdir -p "$HOME"
display=":$(( 90 + RANDOM % 9 ))"
Xvfb "$display" -screen 0 1280x800x24 -nolisten tcp >"$E2E_TMP/xvfb.log" 2>&1 &
xvfb=$!
trap 'kill $xvfb 2>/dev/null || true; rm -rf "$E2E_TMP"' EXIT
for _ in $(seq 100); do [ -e "/tmp/.X11-unix/X${display#:}" ] && break; sleep 0.1; done
export DISPLAY="$display"
dbus-run-session -- sh -c '
  eval "$(printf %s e2e-keyring | gnome-keyring-daemon --unlock --components=secrets)"
  export GNOME_KEYRING_CONTROL SSH_AUTH_SOCK
  exec python3 tools/desktop_e2e.py
'
