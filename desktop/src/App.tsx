import { useCallback, useEffect, useState } from "react";
import { call, commands } from "./api";
import type { OfflineSummary, SessionView } from "./bindings";
import { ErrorNotice } from "./components/common";
import { describe } from "./errors";
import { Explorer } from "./screens/Explorer";
import { Offline } from "./screens/Offline";
import { Reports } from "./screens/Reports";
import { SignIn } from "./screens/SignIn";

type View = "explorer" | "reports" | "offline";

export function App() {
  const [booting, setBooting] = useState(true);
  const [session, setSession] = useState<SessionView | null>(null);
  const [offline, setOffline] = useState<OfflineSummary | null>(null);
  const [offlineOnly, setOfflineOnly] = useState(false);
  const [view, setView] = useState<View>("explorer");
  const [source, setSource] = useState<"online" | "offline">("online");
  const [error, setError] = useState<{ title: string; text: string } | null>(null);

  useEffect(() => {
    call(commands.resumeSession())
      .then((s) => s && setSession(s))
      .catch((e) => setError(describe(e)))
      .finally(() => setBooting(false));
  }, []);

  const signOut = useCallback(async () => {
    try {
      await call(commands.signOut());
    } catch (e) {
      setError(describe(e));
    }
    setSession(null);
    setView("explorer");
  }, []);

  async function switchOrg(id: string) {
    try {
      setSession(await call(commands.switchOrg(id)));
      setSource("online");
    } catch (e) {
      setError(describe(e));
    }
  }

  if (booting) return <div className="signin"><div className="muted">Starting…</div></div>;
  if (!session && !offlineOnly)
    return (
      <>
        {error && <div style={{ position: "fixed", top: 12, left: 12, right: 12 }}><ErrorNotice error={error} /></div>}
        <SignIn onSignedIn={(s) => { setSession(s); setError(null); setSource("online"); setView("explorer"); }}
          onOffline={() => { setOfflineOnly(true); setView("offline"); setSource("offline"); }} />
      </>
    );

  const currentOrg = session?.organizations.find((o) => o.id === session.org);
  const effectiveSource = session ? source : "offline";
  const nav: [View, string][] = [["explorer", "Audit trail"], ["reports", "Reports"], ["offline", "Offline bundle"]];

  return (
    <div className="shell">
      <aside className="sidebar">
        <div className="brand">
          <div className="logo" aria-hidden>L</div>
          <div>
            <h2>LOKI</h2>
            <div className="muted small">{session ? "Compliance console" : "Offline mode"}</div>
          </div>
        </div>
        {session && (
          <div className="field">
            <label htmlFor="org">Organization</label>
            <select id="org" data-testid="org-switcher" className="input" value={session.org ?? ""}
              onChange={(e) => switchOrg(e.target.value)}>
              {!session.org && <option value="">Choose…</option>}
              {session.organizations.map((o) => (
                <option key={o.id} value={o.id}>{o.name}</option>
              ))}
            </select>
          </div>
        )}
        {session && offline && (
          <div className="field">
            <label htmlFor="source">Data source</label>
            <select id="source" data-testid="source" className="input" value={source}
              onChange={(e) => setSource(e.target.value as "online" | "offline")}>
              <option value="online">{currentOrg?.name ?? "Server"} (live)</option>
              <option value="offline">Bundle file (offline)</option>
            </select>
          </div>
        )}
        <nav className="nav" aria-label="Sections">
          {nav.map(([v, label]) => (
            <button key={v} aria-current={view === v ? "page" : undefined} onClick={() => setView(v)} data-testid={`nav-${v}`}>
              {label}
            </button>
          ))}
        </nav>
        <div className="who">
          {session ? (
            <>
              <div>
                <div style={{ fontWeight: 600 }} data-testid="who">{session.user.email}</div>
                <div className="muted small mono">{session.server}</div>
              </div>
              <button className="btn" onClick={signOut} data-testid="sign-out">Sign out</button>
            </>
          ) : (
            <button className="btn" onClick={() => { setOfflineOnly(false); }} data-testid="to-signin">Sign in to a server</button>
          )}
        </div>
      </aside>
      <main className="main">
        {error && <div style={{ padding: "12px 20px 0" }}><ErrorNotice error={error} /></div>}
        {view === "explorer" && (
          <Explorer key={`${effectiveSource}-${session?.org}-${offline?.sha256}`} source={effectiveSource}
            session={session} offline={offline} orgName={effectiveSource === "online" ? currentOrg?.name : offline?.path} />
        )}
        {view === "reports" && <Reports source={effectiveSource} session={session} offline={offline} />}
        {view === "offline" && (
          <Offline summary={offline} onOpened={(s) => { setOffline(s); setSource("offline"); }}
            onBrowse={() => { setSource("offline"); setView("explorer"); }}
            onReport={() => { setSource("offline"); setView("reports"); }} />
        )}
      </main>
    </div>
  );
}
