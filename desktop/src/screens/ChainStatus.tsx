import { useEffect, useState } from "react";
import { call, commands } from "../api";
import type { ChainStatus as Status, OfflineSummary, PinState, VerifyReport } from "../bindings";
import { formatTime } from "../components/common";
import { describe } from "../errors";

function pinText(pin: PinState): { label: string; cls: string } {
  switch (pin.state) {
    case "pinned_now": return { label: "Pinned at this sign-in", cls: "ok" };
    case "match": return { label: "Matches pinned key", cls: "ok" };
    case "succession": return { label: "New key by signed succession", cls: "warn" };
    case "alarm": return { label: "KEY NOT PINNED", cls: "bad" };
  }
}

export function Alarm({ title, text }: { title: string; text: string }) {
  return (
    <div className="alarm" role="alert" data-testid="trust-alarm">
      <div className="icon" aria-hidden>!</div>
      <div>
        <h2>{title}</h2>
        <p>{text}</p>
      </div>
    </div>
  );
}

/** With keys pinned, a chain signed by another key is a failure, not a warning. */
function verdict(report: VerifyReport, pinsExist: boolean, alarmed: boolean): { text: string; cls: string } {
  if (!report.ok) return { text: "✗ Verification FAILED", cls: "bad" };
  if (alarmed && report.trusted) return { text: "✗ Not trusted: see the alarm", cls: "bad" };
  if (report.trusted) return { text: "✓ Verified and trusted", cls: "ok" };
  if (pinsExist) return { text: "✗ FAILED: signed by a key that is not pinned", cls: "bad" };
  return { text: "Intact, signer not pinned", cls: "warn" };
}

function Summary({ report, pin, pinsExist, alarmed, extra }: { report: VerifyReport; pin: PinState | null; pinsExist: boolean; alarmed: boolean; extra?: React.ReactNode }) {
  const v = verdict(report, pinsExist, alarmed);
  return (
    <div className="card chain" data-testid="chain-status">
      <span className={`badge ${v.cls}`} data-testid="chain-verdict">{v.text}</span>
      <dl className="kv">
        <dt>Signed head</dt>
        <dd className="mono" data-testid="signed-head">
          {report.signed_head ? `seq ${report.signed_head[0]} · ${report.signed_head[1].slice(0, 16)}…` : "none"}
        </dd>
        <dt>Signer</dt>
        <dd className="fingerprint" data-testid="signer">{(report.signer_fingerprints ?? []).join(", ") || "—"}</dd>
        <dt>Events</dt>
        <dd>{report.events.toLocaleString()} · {report.checkpoints} checkpoints{report.witnessed ? ` · ${report.witnessed} witnessed heads checked` : ""}</dd>
        {report.failure && (<><dt>Failure</dt><dd data-testid="failure">{report.failure.kind.replace(/_/g, " ")} at seq {report.failure.seq}: {report.failure.detail}</dd></>)}
      </dl>
      <div style={{ display: "flex", flexDirection: "column", gap: 6, alignItems: "flex-end" }}>
        {pin && <span className={`badge ${pinText(pin).cls}`} data-testid="pin-state">{pinText(pin).label}</span>}
        {extra}
      </div>
    </div>
  );
}

export function OnlineChain() {
  const [status, setStatus] = useState<Status | null>(null);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  async function check() {
    setBusy(true);
    setError(null);
    try {
      setStatus(await call(commands.chainStatus()));
    } catch (e) {
      setError(describe(e).text);
    } finally {
      setBusy(false);
    }
  }
  useEffect(() => { check(); }, []);
  if (!status)
    return (
      <div className="card row" data-testid="chain-status-loading">
        <span className="muted grow">{busy ? "Verifying the audit chain on this computer…" : error ?? ""}</span>
        {!busy && <button className="btn small" onClick={check}>Retry</button>}
      </div>
    );
  return (
    <>
      {status.alarm && <Alarm title="Do not trust this audit trail" text={status.alarm} />}
      <Summary report={status.report} pin={status.pin} pinsExist alarmed={!!status.alarm}
        extra={<>
          <span className="muted small">Checked {formatTime(status.checked_at)}{status.witness_updated ? " · head witnessed" : ""}</span>
          <button className="btn small" onClick={check} disabled={busy}>{busy ? "Verifying…" : "Verify again"}</button>
        </>} />
    </>
  );
}

export function OfflineChain({ summary }: { summary: OfflineSummary }) {
  return (
    <>
      {summary.alarm && <Alarm title={summary.report.ok ? "This bundle is not signed by a pinned key" : "This bundle failed verification"} text={summary.alarm} />}
      <Summary report={summary.report} pin={null} pinsExist={summary.keys_pinned} alarmed={!!summary.alarm}
        extra={<span className="muted small">{summary.server ? `Checked against the keys pinned for ${summary.server}` : "Organization never seen at a sign-in here: no pinned key"}</span>} />
    </>
  );
}
