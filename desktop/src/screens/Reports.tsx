import { useState } from "react";
import { call, commands, progressChannel } from "../api";
import type { OfflineSummary, Progress, ReportPreview_Serialize as ReportPreview, SessionView } from "../bindings";
import { ErrorNotice, PathField, ProgressBar, formatBytes, formatTime } from "../components/common";
import { describe } from "../errors";
import { Alarm } from "./ChainStatus";

const PIN_LABEL: Record<string, string> = {
  pinned_now: "Key pinned at this sign-in",
  match: "Signed by the pinned key",
  succession: "Signed by a successor the pinned key introduced",
  alarm: "Signed by a key that is NOT pinned",
};

const FRAMEWORKS = [["soc2", "SOC 2 (Trust Services Criteria)"], ["iso27001", "ISO/IEC 27001:2022 Annex A"], ["gdpr", "GDPR"]];

export function Reports(props: { source: "online" | "offline"; session: SessionView | null; offline: OfflineSummary | null }) {
  const [framework, setFramework] = useState("soc2");
  const [from, setFrom] = useState("");
  const [to, setTo] = useState("");
  const [subject, setSubject] = useState("");
  const [awareness, setAwareness] = useState("");
  const [notified, setNotified] = useState("");
  const [progress, setProgress] = useState<Progress | null>(null);
  const [preview, setPreview] = useState<ReportPreview | null>(null);
  const [path, setPath] = useState("");
  const [saved, setSaved] = useState<string | null>(null);
  const [error, setError] = useState<{ title: string; text: string } | null>(null);
  const unavailable = props.source === "offline" && !props.offline;

  async function generate() {
    setError(null);
    setPreview(null);
    setSaved(null);
    setProgress({ stage: "Starting", done: 0, total: null });
    try {
      const p = await call(commands.generateReport(props.source, {
        framework, from: from || null, to: to || null, subject: subject || null,
        awareness: awareness ? new Date(awareness + ":00Z").toISOString() : null,
        notified_at: notified ? new Date(notified + ":00Z").toISOString() : null,
      }, progressChannel(setProgress)));
      setPreview(p);
      setPath((old) => old || p.suggested_name);
    } catch (e) {
      setError(describe(e));
    } finally {
      setProgress(null);
    }
  }

  async function saveIt() {
    setError(null);
    try {
      setSaved(await call(commands.saveReport(path)));
    } catch (e) {
      setError(describe(e));
    }
  }

  return (
    <>
      <div className="topbar"><div className="grow"><h1>Reports</h1>
        <div className="muted small">{props.source === "online" ? "From a fresh bundle and the signed snapshot of the current organization" : `From the bundle file ${props.offline?.path ?? "(none open)"}`} · made on this computer</div></div></div>
      <div className="content">
        {unavailable && <div className="notice info">Open an audit bundle first (Offline bundle).</div>}
        <div className="card" style={{ display: "flex", flexDirection: "column", gap: 12 }}>
          <div className="form-grid">
            <div className="field"><label htmlFor="r-fw">Framework</label>
              <select id="r-fw" className="input" value={framework} onChange={(e) => setFramework(e.target.value)} data-testid="r-framework">
                {FRAMEWORKS.map(([v, l]) => <option key={v} value={v}>{l}</option>)}
              </select></div>
            <div className="field"><label htmlFor="r-from">Period from</label>
              <input id="r-from" type="date" className="input" value={from} onChange={(e) => setFrom(e.target.value)} /></div>
            <div className="field"><label htmlFor="r-to">Period to</label>
              <input id="r-to" type="date" className="input" value={to} onChange={(e) => setTo(e.target.value)} /></div>
            {framework === "gdpr" && (
              <>
                <div className="field"><label htmlFor="r-subject">Data subject (Art. 15, user id)</label>
                  <input id="r-subject" className="input mono" value={subject} onChange={(e) => setSubject(e.target.value)} /></div>
                <div className="field"><label htmlFor="r-aware">Became aware of a breach (Art. 33, UTC)</label>
                  <input id="r-aware" type="datetime-local" className="input" value={awareness} onChange={(e) => setAwareness(e.target.value)} /></div>
                <div className="field"><label htmlFor="r-notified">Authority notified (Art. 33, UTC)</label>
                  <input id="r-notified" type="datetime-local" className="input" value={notified} onChange={(e) => setNotified(e.target.value)} /></div>
              </>
            )}
          </div>
          <div className="row">
            <span className="grow muted small">The integrity of the audit chain is checked against your pinned keys before anything is saved.</span>
            {progress && <button className="btn" onClick={() => commands.cancelTask()} data-testid="r-cancel">Cancel</button>}
            <button className="btn primary" onClick={generate} disabled={!!progress || unavailable} data-testid="r-generate">Generate report</button>
          </div>
          <ProgressBar progress={progress} />
          <ErrorNotice error={error} />
        </div>
        {preview && (
          <>
            {!preview.verified && <Alarm title="The audit chain failed verification" text={`${preview.integrity_statement} The report says so on its cover; do not present it as evidence.`} />}
            {preview.pin?.state === "alarm" && <Alarm title="Server key not pinned" text={preview.pin.explanation} />}
            <div className="card" data-testid="report-preview" style={{ display: "flex", flexDirection: "column", gap: 12 }}>
              <div className="row">
                <h2 className="grow">{preview.title}{preview.org_name ? ` — ${preview.org_name}` : ""}</h2>
                <span className={`badge ${preview.verified && preview.trusted ? "ok" : preview.verified ? "warn" : "bad"}`} data-testid="report-integrity">
                  {preview.verified && preview.trusted ? "✓ Verified and trusted" : preview.verified ? "Verified, signer not pinned" : "✗ Integrity FAILED"}
                </span>
              </div>
              <dl className="kv">
                <dt>Period</dt><dd>{preview.period_from ? formatTime(preview.period_from) : "start"} → {preview.period_to ? formatTime(preview.period_to) : "end"}</dd>
                <dt>Events in period</dt><dd>{(preview.events_in_period ?? 0).toLocaleString()}</dd>
                <dt>Integrity</dt><dd>{preview.integrity_statement}</dd>
                <dt>Signer</dt><dd className="fingerprint">{preview.signer_fingerprints.join(", ") || "—"}</dd>
                <dt>Pin state</dt><dd>{preview.pin ? PIN_LABEL[preview.pin.state] : "Offline: checked against the keys pinned for the server this organization was seen on"}</dd>
                {preview.partial && (<><dt>Scope</dt><dd>No snapshot: controls that need current state are Not tested.</dd></>)}
              </dl>
              <table className="controls">
                <thead><tr><th>Control</th><th>Title</th><th>Status</th><th>Exceptions</th></tr></thead>
                <tbody>
                  {preview.controls.map((c) => (
                    <tr key={c.control_id}><td className="mono">{c.control_id}</td><td>{c.title}</td>
                      <td><span className={`badge ${c.status === "Effective" ? "ok" : c.status.startsWith("Not") ? "neutral" : "warn"}`}>{c.status}</span></td>
                      <td>{c.exceptions}</td></tr>
                  ))}
                </tbody>
              </table>
              <div className="row" style={{ alignItems: "flex-end" }}>
                <PathField label={`Save PDF (${formatBytes(preview.pdf_bytes)})`} value={path} onChange={setPath} mode="save"
                  defaultName={preview.suggested_name} filters={[{ name: "PDF", extensions: ["pdf"] }]} testId="r-path" />
                <button className="btn primary" onClick={saveIt} disabled={!path} data-testid="r-save">Save PDF</button>
              </div>
              {saved && (
                <div className="notice ok row" data-testid="r-saved">
                  <span className="grow">Saved to <span className="mono">{saved}</span></span>
                  <button className="btn small" onClick={() => call(commands.openSavedReport()).catch((e) => setError(describe(e)))}>Open in viewer</button>
                </div>
              )}
            </div>
          </>
        )}
      </div>
    </>
  );
}
