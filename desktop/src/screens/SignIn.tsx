import { useEffect, useRef, useState } from "react";
import { call, commands } from "../api";
import type { SessionView } from "../bindings";
import { ErrorNotice } from "../components/common";
import { describe } from "../errors";

function ServerField(props: { value: string; onChange: (v: string) => void }) {
  return (
    <div className="field">
      <label htmlFor="server">Server</label>
      <input id="server" data-testid="server" className="input mono" value={props.value}
        onChange={(e) => props.onChange(e.target.value)} autoComplete="url" required />
    </div>
  );
}

export function SignIn(props: { onSignedIn: (s: SessionView) => void; onOffline: () => void }) {
  const [server, setServer] = useState("http://127.0.0.1:8080");
  const [email, setEmail] = useState("");
  const [password, setPassword] = useState("");
  const [code, setCode] = useState("");
  const [org, setOrg] = useState("");
  const [step, setStep] = useState<"password" | "totp" | "sso">("password");
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<{ title: string; text: string } | null>(null);
  const codeRef = useRef<HTMLInputElement>(null);

  useEffect(() => {
    commands.lastSignIn().then((last) => {
      if (last) {
        setServer(last.server);
        setEmail(last.email);
      }
    }).catch(() => {});
  }, []);
  useEffect(() => {
    if (step === "totp") codeRef.current?.focus();
  }, [step]);

  async function submit(e: React.FormEvent) {
    e.preventDefault();
    setBusy(true);
    setError(null);
    try {
      if (step === "sso") {
        const s = await call(commands.signInSso(server, org));
        props.onSignedIn(s);
      } else if (step === "password") {
        const out = await call(commands.signIn(server, email, password));
        if (out.status === "mfa_required") {
          setStep("totp");
        } else {
          setPassword("");
          props.onSignedIn(out.session);
        }
      } else {
        const s = await call(commands.verifyTotp(code));
        setPassword("");
        props.onSignedIn(s);
      }
    } catch (err) {
      const d = describe(err);
      setError(d);
      if (d.kind === "mfa_invalid") setCode("");
    } finally {
      setBusy(false);
    }
  }

  return (
    <div className="signin">
      <form className="signin-card" onSubmit={submit} aria-label="Sign in" data-testid="signin-form">
        <div className="brand">
          <div className="logo" aria-hidden>L</div>
          <div>
            <h1>LOKI Desktop</h1>
            <div className="muted small">Compliance console — sign in to your LOKI server</div>
          </div>
        </div>
        <ErrorNotice error={error} />
        {step === "password" && (
          <>
            <ServerField value={server} onChange={setServer} />
            <div className="field">
              <label htmlFor="email">Email</label>
              <input id="email" data-testid="email" className="input" type="email" value={email}
                onChange={(e) => setEmail(e.target.value)} autoComplete="username" required autoFocus />
            </div>
            <div className="field">
              <label htmlFor="password">Password</label>
              <input id="password" data-testid="password" className="input" type="password" value={password}
                onChange={(e) => setPassword(e.target.value)} autoComplete="current-password" required />
            </div>
          </>
        )}
        {step === "totp" && (
          <div className="field">
            <div className="notice info">
              <strong>Two-factor sign-in</strong>
              Enter the 6-digit code from your authenticator app for {email}.
            </div>
            <label htmlFor="totp">Authentication code</label>
            <input id="totp" ref={codeRef} data-testid="totp" className="input mono" inputMode="numeric"
              autoComplete="one-time-code" maxLength={7} value={code} onChange={(e) => setCode(e.target.value)} required />
          </div>
        )}
        {step === "sso" && (
          <>
            <ServerField value={server} onChange={setServer} />
            <div className="field">
              <label htmlFor="org">Organization</label>
              <input id="org" data-testid="sso-org" className="input mono" value={org} placeholder="acme"
                onChange={(e) => setOrg(e.target.value)} required autoFocus />
              <div className="muted small">Its short name (or id), as your administrator gave it.</div>
            </div>
            {busy && (
              <div className="notice info" data-testid="sso-waiting">
                <strong>Continue in your browser</strong>
                Sign in at your organization's identity provider; LOKI Desktop takes over when it sends you back.
              </div>
            )}
          </>
        )}
        <button className="btn primary" type="submit" disabled={busy} data-testid="signin-submit">
          {step === "sso"
            ? (busy ? "Waiting for the browser…" : "Continue in browser")
            : busy ? "Signing in…" : step === "password" ? "Sign in" : "Verify"}
        </button>
        {step === "sso" && busy && (
          <button type="button" className="btn" data-testid="sso-cancel" onClick={() => { commands.cancelTask(); }}>
            Cancel
          </button>
        )}
        {step === "password" && (
          <button type="button" className="btn" data-testid="sso-start" onClick={() => { setStep("sso"); setError(null); }}>
            Sign in with SSO
          </button>
        )}
        {step !== "password" && !busy && (
          <button type="button" className="btn" data-testid="signin-back"
            onClick={() => { setStep("password"); setCode(""); setError(null); }}>
            Back
          </button>
        )}
        <div className="divider">or</div>
        <button type="button" className="btn" onClick={props.onOffline} data-testid="go-offline">
          Open an audit bundle offline
        </button>
        <p className="muted small" style={{ margin: 0 }}>
          Your tokens are kept in the system keyring, never in this window. The server's audit keys are
          pinned at your first sign-in.
        </p>
      </form>
    </div>
  );
}
