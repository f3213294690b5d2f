#!/usr/bin/env python3
"""End-to-end test of LOKI Desktop: a real lokid (SQLite) with seeded data, the
real desktop binary in a real WebKit window, driven over WebDriver
(WebKitWebDriver), with a real gnome-keyring. Run by tools/desktop-e2e.sh,
which provides Xvfb, a D-Bus session and an unlocked keyring.

Environment: LOKID_BIN, DESKTOP_BIN (binaries), E2E_TMP (scratch folder),
LOKI_SCREENSHOTS (folder for the screenshots, e.g. docs/; optional).
"""

import base64
import hashlib
import hmac
import json
import os
import re
import shutil
import socket
import struct
import subprocess
import sys
import time
import urllib.error
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from verify_bundle import jcs  # noqa: E402  (our own independent verifier)

TMP = os.environ["E2E_TMP"]
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SHOTS = os.environ.get("LOKI_SCREENSHOTS")
PASSWORD = "correct horse battery staple 42"
STEPS = []


def step(name):
    STEPS.append(name)
    print(f"  e2e: {name}", flush=True)


# ---------------------------------------------------------------- HTTP helpers
def http(method, url, body=None, token=None, raw=False):
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(url, data=data, method=method)
    if body is not None:
        req.add_header("Content-Type", "application/json")
    if token:
        req.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(req, timeout=60) as r:
            text = r.read()
            return r.status, (text if raw else (json.loads(text) if text else None))
    except urllib.error.HTTPError as e:
        text = e.read()
        try:
            return e.code, json.loads(text)
        except ValueError:
            return e.code, text


def totp(secret_b32, at=None):
    key = base64.b32decode(secret_b32.upper() + "=" * (-len(secret_b32) % 8))
    counter = int((at or time.time()) // 30)
    mac = hmac.new(key, struct.pack(">Q", counter), hashlib.sha1).digest()
    off = mac[-1] & 15
    code = (struct.unpack(">I", mac[off:off + 4])[0] & 0x7FFFFFFF) % 1_000_000
    return f"{code:06d}"


def wait_until(what, fn, timeout=30.0):
    """Polls a condition (not a sleep): returns its first truthy value."""
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        try:
            v = fn()
            if v:
                return v
        except Exception as e:  # noqa: BLE001 - reported on timeout
            last = e
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}" + (f" (last error: {last})" if last else ""))


# ------------------------------------------------------------------ WebDriver
class Driver:
    EL = "element-6066-11e4-a52f-4a5ab2d8b09a"

    def __init__(self, port, binary):
        self.base = f"http://127.0.0.1:{port}"
        caps = {"capabilities": {"alwaysMatch": {"webkitgtk:browserOptions": {"binary": binary, "args": ["--automation"]}}}}
        status, body = http("POST", f"{self.base}/session", caps)
        assert status == 200, f"WebDriver session: {status} {body}"
        self.sid = body["value"]["sessionId"]
        self.s = f"{self.base}/session/{self.sid}"

    def cmd(self, method, path, body=None):
        status, resp = http(method, f"{self.s}{path}", body if body is not None else ({} if method == "POST" else None))
        if status != 200:
            raise RuntimeError(f"WebDriver {method} {path}: {status} {resp}")
        return resp["value"]

    def find(self, css):
        e = self.cmd("POST", "/element", {"using": "css selector", "value": css})
        return e.get(self.EL) or next(iter(e.values()))

    def find_all(self, css):
        found = self.cmd("POST", "/elements", {"using": "css selector", "value": css})
        return [next(iter(e.values())) if self.EL not in e else e[self.EL] for e in found]

    def wait(self, css, timeout=30.0):
        return wait_until(css, lambda: self.find_all(css) and self.find_all(css)[0], timeout)

    def click(self, css):
        self.cmd("POST", f"/element/{self.wait(css)}/click")

    def type(self, css, text, clear=True):
        el = self.wait(css)
        if clear:
            self.cmd("POST", f"/element/{el}/clear")
        self.cmd("POST", f"/element/{el}/value", {"text": text})

    def text(self, css):
        return self.cmd("GET", f"/element/{self.wait(css)}/text")

    def js(self, script, *args):
        return self.cmd("POST", "/execute/sync", {"script": script, "args": list(args)})

    def wait_text(self, css, pattern, timeout=60.0):
        return wait_until(f"{css} ~ /{pattern}/", lambda: re.search(pattern, self.text(css)) and self.text(css), timeout)

    def screenshot(self, name):
        if not SHOTS:
            return
        # Two animation frames, so the picture shows the DOM as it is now.
        self.cmd("POST", "/execute/async", {"script": "const done = arguments[0]; requestAnimationFrame(() => requestAnimationFrame(() => done(true)));", "args": []})
        png = base64.b64decode(self.cmd("GET", "/screenshot"))
        with open(os.path.join(SHOTS, f"desktop-{name}.png"), "wb") as f:
            f.write(png)

    def quit(self):
        try:
            http("DELETE", self.s)
        except Exception:  # noqa: BLE001 - best effort at teardown
            pass


# -------------------------------------------------------------------- helpers
def keyring_secrets():
    out = subprocess.run(["secret-tool", "search", "--all", "service", "loki-desktop"], capture_output=True, text=True)
    return [line.split("=", 1)[1].strip() for line in (out.stdout + out.stderr).splitlines() if line.startswith("secret =")]


def pdf_text(path):
    return subprocess.run(["pdftotext", "-layout", path, "-"], capture_output=True, text=True, check=True).stdout


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def tamper(src, dst):
    """Changes one event's outcome without fixing its hash."""
    lines = open(src).read().splitlines()
    for i, line in enumerate(lines):
        v = json.loads(line)
        if v.get("type") == "event" and v["event"]["seq"] == 3:
            v["event"]["outcome"] = "failure" if v["event"]["outcome"] != "failure" else "success"
            lines[i] = json.dumps(v)
            break
    open(dst, "w").write("\n".join(lines) + "\n")


def forge(src, dst):
    """Rewrites an event, re-hashes the chain and re-signs every checkpoint with
    a new key: internally consistent, but not signed by the pinned key."""
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
    from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

    key = Ed25519PrivateKey.generate()
    pub = key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
    b64 = lambda b: base64.urlsafe_b64encode(b).decode().rstrip("=")  # noqa: E731
    rows = [json.loads(l) for l in open(src).read().splitlines() if l.strip()]
    hashes, prev = {}, None
    for r in rows:
        if r["type"] == "event":
            e = r["event"]
            if e["seq"] == 3:
                e["outcome"] = "failure" if e["outcome"] != "failure" else "success"
            if prev is not None:
                e["prev_hash"] = prev
            body = {k: v for k, v in e.items() if k != "hash"}
            e["hash"] = hashlib.sha256(jcs(body).encode()).hexdigest()
            prev = e["hash"]
            hashes[e["seq"]] = e["hash"]
    for r in rows:
        if r["type"] == "key":
            r["key"] = {"key_id": r["key"]["key_id"], "public_key": b64(pub), "valid_from": r["key"]["valid_from"]}
        if r["type"] == "checkpoint":
            c = r["checkpoint"]
            c["head_hash"] = hashes.get(c["seq"], c["head_hash"])
            body = {k: c[k] for k in ("org_id", "seq", "head_hash", "issued_at", "key_id")}
            c["signature"] = b64(key.sign(jcs(body).encode()))
    open(dst, "w").write("\n".join(json.dumps(r) for r in rows) + "\n")


# ----------------------------------------------------------------------- main
def main():
    procs = []
    driver = None
    try:
        data = os.path.join(TMP, "lokid")
        os.makedirs(data, exist_ok=True)
        port = free_port()
        env = dict({k: v for k, v in os.environ.items() if not k.startswith("LOKI_")}, LOKI_LISTEN=f"127.0.0.1:{port}", LOKI_DATA_DIR=data, LOKI_LOG_LEVEL="warn")
        lokid = subprocess.Popen([os.environ["LOKID_BIN"]], env=env, stdout=open(os.path.join(TMP, "lokid.log"), "w"), stderr=subprocess.STDOUT)
        procs.append(lokid)
        api = f"http://127.0.0.1:{port}/api/v1"
        server = f"http://127.0.0.1:{port}"
        def up():
            assert lokid.poll() is None, "lokid exited"
            return http("GET", f"{server}/healthz")[0] == 200

        wait_until("lokid /healthz", up)

        step("seed: officer with TOTP, two organizations, a rename (before/after), failed sign-ins")
        email = "officer@acme.example"
        assert http("POST", f"{api}/auth/register", {"email": email, "password": PASSWORD})[0] == 201
        _, tok = http("POST", f"{api}/auth/login", {"email": email, "password": PASSWORD})
        token = tok["access_token"]
        _, org_a = http("POST", f"{api}/orgs", {"name": "Acme Corp"}, token)
        _, org_b = http("POST", f"{api}/orgs", {"name": "Globex Ltd"}, token)
        _, tok = http("POST", f"{api}/auth/switch-org", {"org": org_a["id"]}, token)
        token = tok["access_token"]
        s, _ = http("PATCH", f"{api}/orgs/{org_a['id']}", {"name": "Acme Corporation"}, token)
        assert s == 200, s
        for who, roles in (("dana@acme.example", ["admin"]), ("lee@acme.example", ["viewer"]), ("sam@acme.example", ["viewer"])):
            s, inv = http("POST", f"{api}/orgs/{org_a['id']}/invitations", {"email": who, "roles": roles}, token)
            assert s == 201, (s, inv)
        http("DELETE", f"{api}/orgs/{org_a['id']}/invitations/{inv['invitation']['id'] if 'invitation' in inv else inv['id']}", None, token)
        req = urllib.request.Request(f"{api}/orgs/{org_a['id']}/documents?name=Access%20policy%202026", data=b"%PDF-1.4 access policy", method="POST",
                                     headers={"Authorization": f"Bearer {token}", "Content-Type": "application/pdf"})
        urllib.request.urlopen(req, timeout=30).read()
        for _ in range(2):
            http("POST", f"{api}/auth/login", {"email": email, "password": "wrong password", "org": org_a["id"]})
        _, enroll = http("POST", f"{api}/auth/mfa/enroll", None, token)
        secret = enroll["secret"]
        s, body = http("POST", f"{api}/auth/mfa/confirm", {"code": totp(secret)}, token)
        assert s == 200, (s, body)

        # A real OpenID provider on this machine (tests/fixtures/oidc-provider),
        # trusted by Acme for single sign-on.
        fixture = subprocess.Popen(["node", "server.mjs"], cwd=os.path.join(ROOT, "tests/fixtures/oidc-provider"),
                                   stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                   stderr=open(os.path.join(TMP, "oidc.log"), "w"))
        procs.append(fixture)
        issuer = json.loads(fixture.stdout.readline())["issuer"]
        s, client = http("POST", f"{issuer}/reg", {"redirect_uris": [f"{server}/api/v1/auth/sso/callback"],
                                                   "grant_types": ["authorization_code"], "response_types": ["code"],
                                                   "token_endpoint_auth_method": "client_secret_basic"})
        assert s == 201, (s, client)
        s, _ = http("POST", f"{issuer}/__test/accounts", {"email": email, "email_verified": True, "name": "Officer"})
        assert s == 204, s
        s, body = http("POST", f"{api}/orgs/{org_a['id']}/identity-providers",
                       {"name": "Acme SSO", "kind": "oidc", "issuer": issuer, "client_id": client["client_id"],
                        "client_secret": client["client_secret"], "allowed_domains": ["acme.example"]}, token)
        assert s == 201, (s, body)

        wd_port = free_port()
        browser_env = {"BROWSER": os.path.join(ROOT, "tools/e2e_browser.py"), "E2E_SSO_EMAIL": email,
                       "E2E_SSO_NOT_APP": f"{issuer} {server}"}
        wd = subprocess.Popen(["WebKitWebDriver", f"--port={wd_port}", "--host=127.0.0.1"],
                              env=dict(os.environ, TAURI_WEBVIEW_AUTOMATION="true", **browser_env),
                              stdout=open(os.path.join(TMP, "webdriver.log"), "w"), stderr=subprocess.STDOUT)
        procs.append(wd)
        wait_until("WebKitWebDriver", lambda: http("GET", f"http://127.0.0.1:{wd_port}/status")[0] == 200)
        driver = d = Driver(wd_port, os.environ["DESKTOP_BIN"])

        step("sign-in screen; a wrong password gets its own message")
        d.wait("[data-testid=signin-form]")
        d.type("[data-testid=server]", server)
        d.type("[data-testid=email]", email)
        d.type("[data-testid=password]", "not my password")
        d.click("[data-testid=signin-submit]")
        d.wait_text("[data-testid=error]", "Wrong email or password")
        d.screenshot("signin-error")

        step("sign in with password, then TOTP")
        d.type("[data-testid=password]", PASSWORD)
        d.click("[data-testid=signin-submit]")
        d.wait("[data-testid=totp]")
        d.screenshot("signin-totp")
        # The next step's code (the server accepts ±1 step; the current one
        # was spent confirming the enrolment).
        code = totp(secret, time.time() + 30)
        d.type("[data-testid=totp]", code)
        d.click("[data-testid=signin-submit]")
        d.wait_text("[data-testid=chain-verdict]", "Verified and trusted", 90)
        assert "Pinned at this sign-in" in d.text("[data-testid=pin-state]")
        wait_until("events in the table", lambda: len(d.find_all("[data-testid=event-row]")) > 0)
        d.screenshot("explorer")

        step("the tokens are in the keyring, not in web storage or the page")
        secrets = keyring_secrets()
        assert len(secrets) == 1, f"expected one keyring entry, got {len(secrets)}"
        stored = json.loads(secrets[0])
        assert stored["refresh_token"] and stored["access_token"]
        web = d.js("return JSON.stringify([Object.entries(localStorage), Object.entries(sessionStorage), document.cookie, document.documentElement.outerHTML]);")
        for t in (stored["access_token"], stored["refresh_token"]):
            assert t not in web, "a token is visible to the web view"

        step("switch organization and back")
        d.click(f"[data-testid=org-switcher] option[value='{org_b['id']}']")
        wait_until("Globex chain", lambda: "Globex" in d.text(".topbar"))
        d.wait_text("[data-testid=chain-verdict]", "Verified", 60)
        d.click(f"[data-testid=org-switcher] option[value='{org_a['id']}']")
        wait_until("Acme chain", lambda: "Acme" in d.text(".topbar"))
        d.wait_text("[data-testid=chain-verdict]", "Verified", 60)

        step("filter the audit trail and open an event's diff")
        d.type("[data-testid=f-action]", "org.updated")
        d.click("[data-testid=apply-filters]")
        wait_until("only org.updated rows", lambda: (rows := d.find_all("[data-testid=event-row]")) and all(
            d.cmd("GET", f"/element/{r}/attribute/data-action") == "org.updated" for r in rows))
        d.click("[data-testid=event-row]")
        d.wait("[data-testid=diff]")
        changed = d.text("[data-testid=diff-changed]")
        assert "Acme Corp" in changed and "Acme Corporation" in changed, changed
        d.screenshot("event-diff")

        step("export a bundle with progress")
        bundle = os.path.join(TMP, "acme-bundle.jsonl")
        d.click("[data-testid=export-open]")
        d.type("[data-testid=export-path]", bundle)
        d.click("[data-testid=export-run]")
        d.wait_text("[data-testid=export-done]", "Saved")
        d.screenshot("export")
        assert os.path.getsize(bundle) > 0
        d.click("[data-testid=export-panel] .btn.small")

        step("generate a SOC 2 report online and check its text")
        d.click("[data-testid=nav-reports]")
        d.click("[data-testid=r-generate]")
        d.wait_text("[data-testid=report-integrity]", "Verified and trusted", 120)
        d.screenshot("report")
        pdf = os.path.join(TMP, "acme-soc2.pdf")
        d.type("[data-testid=r-path]", pdf)
        d.click("[data-testid=r-save]")
        d.wait("[data-testid=r-saved]")
        text = pdf_text(pdf)
        assert "SOC 2" in text and "Acme Corporation" in text, text[:400]

        step("sign out: keyring entry gone, session revoked on the daemon")
        d.click("[data-testid=sign-out]")
        d.wait("[data-testid=signin-form]")
        wait_until("keyring entry deleted", lambda: not keyring_secrets())
        s, body = http("GET", f"{api}/auth/me", None, stored["access_token"])
        assert s == 401 and body["error"]["code"] == "session_revoked", (s, body)

        step("offline: open the bundle, verify it against the pinned key, browse, build a report")
        d.click("[data-testid=go-offline]")
        d.type("[data-testid=bundle-path]", bundle)
        d.click("[data-testid=bundle-open]")
        d.wait_text("[data-testid=chain-verdict]", "Verified and trusted")
        d.screenshot("offline")
        d.click("[data-testid=bundle-browse]")
        wait_until("offline rows", lambda: len(d.find_all("[data-testid=event-row]")) > 0)
        d.click("[data-testid=nav-reports]")
        d.click("[data-testid=r-generate]")
        d.wait_text("[data-testid=report-integrity]", "Verified and trusted", 120)
        offline_pdf = os.path.join(TMP, "offline-soc2.pdf")
        d.type("[data-testid=r-path]", offline_pdf)
        d.click("[data-testid=r-save]")
        d.wait("[data-testid=r-saved]")
        assert "SOC 2" in pdf_text(offline_pdf)

        step("offline: a tampered copy fails")
        tampered = os.path.join(TMP, "tampered.jsonl")
        tamper(bundle, tampered)
        d.click("[data-testid=nav-offline]")
        d.type("[data-testid=bundle-path]", tampered)
        d.click("[data-testid=bundle-open]")
        d.wait_text("[data-testid=chain-verdict]", "FAILED")
        d.wait("[data-testid=trust-alarm]")
        assert "hash" in d.text("[data-testid=failure]").lower()
        d.screenshot("offline-tampered")

        step("offline: a re-signed forgery fails (not signed by the pinned key)")
        forged = os.path.join(TMP, "forged.jsonl")
        forge(bundle, forged)
        d.type("[data-testid=bundle-path]", forged)
        d.click("[data-testid=bundle-open]")
        # Its chain is consistent; what catches it is the key pinned at
        # sign-in, or (first) the witness of heads this computer saw.
        d.wait_text("[data-testid=chain-verdict]", "FAILED")
        alarm = d.text("[data-testid=trust-alarm]")
        assert "rewritten" in alarm or "not pinned" in alarm, alarm
        d.screenshot("offline-forged")
        step("the window's size is remembered across restarts")
        d.cmd("POST", "/window/rect", {"width": 1100, "height": 720})
        wait_until("resized", lambda: d.cmd("GET", "/window/rect")["width"] == 1100)
        d.quit()
        driver = d = Driver(wd_port, os.environ["DESKTOP_BIN"])
        d.wait("[data-testid=signin-form]")
        rect = d.cmd("GET", "/window/rect")
        assert (rect["width"], rect["height"]) == (1100, 720), rect
        # Last: it moves Acme's chain past the bundle exported above, which
        # this computer's witness would then (rightly) call cut.
        step("sign in with SSO through the local OpenID provider (system browser, loopback, PKCE)")
        d.click("[data-testid=sso-start]")
        d.type("[data-testid=server]", server)
        d.type("[data-testid=sso-org]", org_a["slug"])
        d.screenshot("signin-sso")
        d.click("[data-testid=signin-submit]")
        d.wait_text("[data-testid=chain-verdict]", "Verified", 90)
        wait_until("Acme chain", lambda: "Acme" in d.text(".topbar"))
        secrets = keyring_secrets()
        assert len(secrets) == 1, f"expected one keyring entry, got {len(secrets)}"
        sso_tokens = json.loads(secrets[0])
        s, me = http("GET", f"{api}/auth/me", None, sso_tokens["access_token"])
        assert s == 200 and me["org"] == org_a["id"] and me["user"]["email"] == email, (s, me)
        s, found = http("GET", f"{api}/orgs/{org_a['id']}/audit/events?action=auth.login_succeeded", None, sso_tokens["access_token"])
        assert any(e["metadata"].get("method") == "sso" for e in found["events"]), found
        d.click("[data-testid=sign-out]")
        d.wait("[data-testid=signin-form]")
        wait_until("keyring entry deleted", lambda: not keyring_secrets())

        print(f"desktop e2e: {len(STEPS)} steps passed", flush=True)
    except Exception:
        if driver:
            try:
                png = base64.b64decode(driver.cmd("GET", "/screenshot"))
                open("/tmp/desktop-e2e-failure.png", "wb").write(png)
                print("page text:", driver.js("return document.body.innerText;")[:2000], file=sys.stderr)
                print("screenshot: /tmp/desktop-e2e-failure.png", file=sys.stderr)
            except Exception as e:  # noqa: BLE001
                print(f"(no screenshot: {e})", file=sys.stderr)
        raise
    finally:
        if driver:
            driver.quit()
        for p in reversed(procs):
            p.terminate()
            try:
                p.wait(10)
            except subprocess.TimeoutExpired:
                p.kill()


if __name__ == "__main__":
    try:
        main()
    except Exception:
        for log in ("lokid.log", "webdriver.log"):
            path = os.path.join(TMP, log)
            if os.path.exists(path):
                print(f"--- {log} (tail)", file=sys.stderr)
                print("".join(open(path).readlines()[-30:]), file=sys.stderr)
        raise
    finally:
        if os.environ.get("E2E_KEEP") is None:
            shutil.rmtree(os.path.join(TMP, "lokid"), ignore_errors=True)
