// The window against a mocked IPC (Tauri's mockIPC): what each screen shows
// for what the Rust side answers. The Rust side itself is tested in
// src-tauri/tests against a real lokid.
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { cleanup, fireEvent, render, screen, waitFor, within } from "@testing-library/react";
import { clearMocks, mockIPC } from "@tauri-apps/api/mocks";
import { App } from "./App";

const user = { id: "u1", email: "officer@acme.example", is_super_admin: false, mfa_enabled: true, created_at: "2026-12-01T00:00:00Z" };
const session = {
  server: "http://127.0.0.1:8080", user, org: "o1",
  organizations: [{ id: "o1", slug: "acme", name: "Acme Corp", roles: ["owner"] }, { id: "o2", slug: "globex", name: "Globex", roles: ["viewer"] }],
  pin: { state: "pinned_now", fingerprints: ["SHA256:abc"] },
};
const report = { ok: true, events: 3, checkpoints: 1, trusted: true, signer_fingerprints: ["SHA256:abc"], authenticity: "Signed by a pinned key.", witnessed: 0, signed_head: [3, "ffee"] };

function event(seq: number, action = "org.updated") {
  return { schema: 1, id: `e${seq}`, org_id: "o1", seq, time: "2026-12-01T10:00:00Z", actor: { kind: "user", user_id: "u1" }, action, outcome: "success", metadata: {}, count: 1, prev_hash: "", hash: `h${seq}` };
}

type Handler = (cmd: string, args: Record<string, unknown>) => unknown;
let calls: { cmd: string; args: Record<string, unknown> }[] = [];
function ipc(overrides: Record<string, Handler | unknown>) {
  calls = [];
  mockIPC((cmd, args) => {
    calls.push({ cmd, args: (args ?? {}) as Record<string, unknown> });
    const o = overrides[cmd];
    if (typeof o === "function") return (o as Handler)(cmd, (args ?? {}) as Record<string, unknown>);
    if (o !== undefined) return o;
    switch (cmd) {
      case "resume_session": return null;
      case "last_sign_in": return null;
      case "org_people": return [{ id: "u1", email: "officer@acme.example" }];
      case "chain_status": return { report, pin: session.pin, alarm: null, witness_updated: true, checked_at: "2026-12-01T10:00:00Z" };
      case "search_events": return { events: [event(3), event(2, "auth.login"), event(1, "org.created")], next_cursor: null };
      default: return null;
    }
  });
}

beforeEach(() => {
  localStorage.clear();
  sessionStorage.clear();
  // jsdom lays nothing out: give the virtualised table a viewport.
  vi.spyOn(Element.prototype, "clientHeight", "get").mockReturnValue(600);
  vi.spyOn(Element.prototype, "clientWidth", "get").mockReturnValue(1000);
});
afterEach(() => { cleanup(); clearMocks(); vi.restoreAllMocks(); });

describe("sign in", () => {
  it("tells a wrong password apart and keeps the form", async () => {
    ipc({ sign_in: () => { throw { kind: "wrong_password", message: "The email or password is wrong. Check both and try again." }; } });
    render(<App />);
    fireEvent.change(await screen.findByTestId("email"), { target: { value: "officer@acme.example" } });
    fireEvent.change(screen.getByTestId("password"), { target: { value: "nope" } });
    fireEvent.click(screen.getByTestId("signin-submit"));
    const err = await screen.findByTestId("error");
    expect(err.textContent).toContain("Wrong email or password");
    expect(err.textContent).toContain("Check both");
    expect(screen.getByTestId("password")).toBeTruthy();
  });

  it.each([
    ["locked", "Account locked"],
    ["unreachable", "Server unreachable"],
    ["tls", "Secure connection failed"],
    ["keyring_unavailable", "No keyring available"],
  ])("names %s distinctly", async (kind, title) => {
    ipc({ sign_in: () => { throw { kind, message: "what to do" }; } });
    render(<App />);
    fireEvent.change(await screen.findByTestId("email"), { target: { value: "a@b.c" } });
    fireEvent.change(screen.getByTestId("password"), { target: { value: "x" } });
    fireEvent.click(screen.getByTestId("signin-submit"));
    expect((await screen.findByTestId("error")).textContent).toContain(title);
  });

  it("asks for the TOTP code, then opens the explorer; nothing lands in web storage", async () => {
    ipc({ sign_in: { status: "mfa_required" }, verify_totp: session });
    render(<App />);
    fireEvent.change(await screen.findByTestId("email"), { target: { value: "officer@acme.example" } });
    fireEvent.change(screen.getByTestId("password"), { target: { value: "pw" } });
    fireEvent.click(screen.getByTestId("signin-submit"));
    fireEvent.change(await screen.findByTestId("totp"), { target: { value: "123456" } });
    fireEvent.click(screen.getByTestId("signin-submit"));
    expect((await screen.findByTestId("chain-verdict")).textContent).toContain("Verified and trusted");
    expect(calls.find((c) => c.cmd === "verify_totp")?.args).toEqual({ code: "123456" });
    expect(localStorage.length + sessionStorage.length).toBe(0);
    expect(document.cookie).toBe("");
  });
});

describe("single sign-on", () => {
  it("asks for the organization, waits for the browser, then opens the explorer", async () => {
    let finish: (v: unknown) => void = () => {};
    ipc({ sign_in_sso: () => new Promise((r) => { finish = r; }) });
    render(<App />);
    fireEvent.click(await screen.findByTestId("sso-start"));
    expect(screen.queryByTestId("password")).toBeNull();
    fireEvent.change(screen.getByTestId("sso-org"), { target: { value: "acme" } });
    fireEvent.click(screen.getByTestId("signin-submit"));
    expect((await screen.findByTestId("sso-waiting")).textContent).toContain("Continue in your browser");
    expect(calls.find((c) => c.cmd === "sign_in_sso")?.args).toEqual({ server: "http://127.0.0.1:8080", org: "acme" });
    fireEvent.click(screen.getByTestId("sso-cancel"));
    expect(calls.some((c) => c.cmd === "cancel_task")).toBe(true);
    finish(session);
    expect((await screen.findByTestId("chain-verdict")).textContent).toContain("Verified and trusted");
  });

  it("shows the provider's refusal and keeps the organization", async () => {
    ipc({ sign_in_sso: () => { throw { kind: "forbidden", message: "The identity provider did not sign you in: ask an admin to invite you." }; } });
    render(<App />);
    fireEvent.click(await screen.findByTestId("sso-start"));
    fireEvent.change(screen.getByTestId("sso-org"), { target: { value: "acme" } });
    fireEvent.click(screen.getByTestId("signin-submit"));
    expect((await screen.findByTestId("error")).textContent).toContain("invite you");
    expect((screen.getByTestId("sso-org") as HTMLInputElement).value).toBe("acme");
    fireEvent.click(screen.getByTestId("signin-back"));
    expect(screen.getByTestId("password")).toBeTruthy();
  });
});

describe("explorer", () => {
  it("lists events with actors by email and applies filters", async () => {
    ipc({ resume_session: session });
    render(<App />);
    const rows = await screen.findAllByTestId("event-row");
    expect(rows).toHaveLength(3);
    expect(rows[0].textContent).toContain("officer@acme.example");
    fireEvent.change(screen.getByTestId("f-action"), { target: { value: "org.*" } });
    fireEvent.click(screen.getByTestId("apply-filters"));
    await waitFor(() => {
      const last = calls.filter((c) => c.cmd === "search_events").pop();
      expect((last?.args.filter as { action: string }).action).toBe("org.*");
      expect(last?.args.source).toBe("online");
    });
  });

  it("shows a field-level diff and hides unchanged fields until asked", async () => {
    ipc({
      resume_session: session,
      get_event: { event: event(3), changes: [
        { field: "name", before: "Acme", after: "Acme Corp", change: "changed" },
        { field: "settings.ttl", before: 30, after: 30, change: "unchanged" },
      ] },
    });
    render(<App />);
    fireEvent.click((await screen.findAllByTestId("event-row"))[0]);
    const diff = await screen.findByTestId("diff");
    expect(within(diff).getByTestId("diff-changed").textContent).toContain("Acme Corp");
    expect(within(diff).queryByTestId("diff-unchanged")).toBeNull();
    fireEvent.click(screen.getByTestId("toggle-unchanged"));
    expect(within(screen.getByTestId("diff")).getByTestId("diff-unchanged")).toBeTruthy();
  });

  it("keyboard: arrows move between rows, Enter opens the detail", async () => {
    ipc({ resume_session: session, get_event: { event: event(2, "auth.login"), changes: [] } });
    render(<App />);
    const rows = await screen.findAllByTestId("event-row");
    rows[1].focus();
    fireEvent.keyDown(rows[1], { key: "Enter" });
    expect((await screen.findByTestId("event-detail")).textContent).toContain("auth.login");
    await waitFor(() => expect(calls.some((c) => c.cmd === "get_event" && c.args.id === "e2")).toBe(true));
  });

  it("keeps only the rows in view in the page, even with 100,000 results", async () => {
    const many = Array.from({ length: 100_000 }, (_, i) => event(100_000 - i));
    ipc({ resume_session: session, search_events: { events: many, next_cursor: null } });
    render(<App />);
    await screen.findAllByTestId("event-row");
    expect(screen.getByTestId("row-count").textContent).toContain("100,000");
    expect(screen.getAllByTestId("event-row").length).toBeLessThan(60);
  });

  it("asks for the next page with the cursor the last page gave", async () => {
    ipc({
      resume_session: session,
      search_events: (_c: string, a: Record<string, unknown>) =>
        a.cursor == null ? { events: [event(5), event(4)], next_cursor: 4 } : { events: [event(3)], next_cursor: null },
    });
    render(<App />);
    await waitFor(() => expect(screen.getAllByTestId("event-row")).toHaveLength(3));
    const pages = calls.filter((c) => c.cmd === "search_events");
    expect(pages.map((p) => p.args.cursor)).toEqual([null, 4]);
  });

  it("says so when nothing matches", async () => {
    ipc({ resume_session: session, search_events: { events: [], next_cursor: null } });
    render(<App />);
    expect((await screen.findByTestId("empty")).textContent).toContain("No events match");
  });

  it("raises a red alarm when the server's key is not the pinned one", async () => {
    ipc({
      resume_session: session,
      chain_status: { report: { ...report, trusted: false }, pin: { state: "alarm", fingerprints: ["SHA256:evil"], unexpected: ["SHA256:evil"], explanation: "This server now presents an audit key that was not pinned." }, alarm: "This server now presents an audit key that was not pinned.", witness_updated: false, checked_at: "2026-12-01T10:00:00Z" },
    });
    render(<App />);
    const alarm = await screen.findByTestId("trust-alarm");
    expect(alarm.getAttribute("role")).toBe("alert");
    expect(alarm.textContent).toContain("not pinned");
    expect(screen.getByTestId("pin-state").textContent).toContain("KEY NOT PINNED");
  });
});

describe("offline and reports", () => {
  it("a failed bundle is shown as failed with its reason", async () => {
    ipc({ open_bundle: { path: "/tmp/b.jsonl", sha256: "00", org_id: "o1", events: 3, keys_pinned: true,
      report: { ...report, ok: false, trusted: false, failure: { seq: 3, kind: "hash_mismatch", detail: "event 3 was altered" } },
      alarm: "The audit trail fails verification at seq 3." } });
    render(<App />);
    fireEvent.click(await screen.findByTestId("go-offline"));
    fireEvent.change(screen.getByTestId("bundle-path"), { target: { value: "/tmp/b.jsonl" } });
    fireEvent.click(screen.getByTestId("bundle-open"));
    expect((await screen.findByTestId("chain-verdict")).textContent).toContain("FAILED");
    expect(screen.getByTestId("failure").textContent).toContain("hash mismatch");
    expect(screen.getByTestId("trust-alarm")).toBeTruthy();
  });

  it("shows integrity and signer before saving, then saves where asked", async () => {
    ipc({
      resume_session: session,
      generate_report: { title: "SOC 2 evidence report", org_name: "Acme Corp", period_from: null, period_to: null, events_in_period: 3,
        verified: true, trusted: true, signer_fingerprints: ["SHA256:abc"], integrity_statement: "VERIFIED AND TRUSTED", pin: { state: "match", fingerprints: ["SHA256:abc"] },
        partial: false, controls: [{ control_id: "CC6.1", title: "Logical access", status: "Effective", exceptions: 0 }], suggested_name: "acme-soc2.pdf", pdf_bytes: 2048 },
      save_report: (_c: string, a: Record<string, unknown>) => a.path,
    });
    render(<App />);
    fireEvent.click(await screen.findByTestId("nav-reports"));
    fireEvent.click(screen.getByTestId("r-generate"));
    const preview = await screen.findByTestId("report-preview");
    expect(preview.textContent).toContain("SHA256:abc");
    expect(screen.getByTestId("report-integrity").textContent).toContain("Verified and trusted");
    expect(calls.some((c) => c.cmd === "save_report")).toBe(false);
    expect((screen.getByTestId("r-path") as HTMLInputElement).value).toBe("acme-soc2.pdf");
    fireEvent.change(screen.getByTestId("r-path"), { target: { value: "/home/me/acme.pdf" } });
    fireEvent.click(screen.getByTestId("r-save"));
    expect((await screen.findByTestId("r-saved")).textContent).toContain("/home/me/acme.pdf");
  });
});
