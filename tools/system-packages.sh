#!/usr/bin/env bash
# The system packages the test suite needs on Debian/Ubuntu: installed when
# run as root with apt, otherwise named with the command that installs them.
set -euo pipefail

need=()
have() { command -v "$1" >/dev/null 2>&1; }
have pkg-config || need+=(pkg-config)
have cc || need+=(build-essential)
have curl || need+=(curl)
have pdftotext || need+=(poppler-utils)            # reports: text as auditors' tools extract it
have redis-server || need+=(redis-server)          # a test stops a Redis of its own
have psql || need+=(postgresql-client)
have redis-cli || need+=(redis-tools)
# LOKI Desktop (Tauri 2 on WebKitGTK) and its end-to-end test.
pkg-config --exists webkit2gtk-4.1 2>/dev/null || need+=(libwebkit2gtk-4.1-dev)
have Xvfb || need+=(xvfb)
have WebKitWebDriver || need+=(webkit2gtk-driver)
have gnome-keyring-daemon || need+=(gnome-keyring)
have secret-tool || need+=(libsecret-tools)
have dbus-run-session || need+=(dbus)
# poppler draws the PDF base-14 fonts with the right metrics (Nimbus = URW base35).
{ fc-list 2>/dev/null | grep -i nimbus >/dev/null; } || need+=(fonts-urw-base35)  # not -q: pipefail + SIGPIPE
# Single sign-on: SAML signatures (samael builds on libxml2 and xmlsec1, with
# bindgen, hence libclang); xmlsec1 itself for the fixture's checks.
pkg-config --exists xmlsec1 2>/dev/null || need+=(libxmlsec1-dev)
pkg-config --exists libxml-2.0 2>/dev/null || need+=(libxml2-dev)
{ ls /usr/lib/llvm-*/lib/libclang*.so* >/dev/null 2>&1 || ls /usr/lib/x86_64-linux-gnu/libclang*.so* >/dev/null 2>&1; } || need+=(libclang-dev)
have xmlsec1 || need+=(xmlsec1)
have node || need+=(nodejs)
have npm || need+=(npm)

if [ ${#need[@]} -eq 0 ]; then
  exit 0
fi
if [ "$(id -u)" = 0 ] && have apt-get; then
  printf '==> installing %s\n' "${need[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}"
else
  printf 'Missing system packages: %s\nInstall them with:\n  sudo apt-get install --no-install-recommends %s\n' \
    "${need[*]}" "${need[*]}" >&2
  exit 1
fi
