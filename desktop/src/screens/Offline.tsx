import { useState } from "react";
import { call, commands, progressChannel } from "../api";
import type { OfflineSummary, Progress } from "../bindings";
import { ErrorNotice, PathField, ProgressBar } from "../components/common";
import { describe } from "../errors";
import { OfflineChain } from "./ChainStatus";

export function Offline(props: { summary: OfflineSummary | null; onOpened: (s: OfflineSummary) => void; onBrowse: () => void; onReport: () => void }) {
  const [path, setPath] = useState(props.summary?.path ?? "");
  const [progress, setProgress] = useState<Progress | null>(null);
  const [error, setError] = useState<{ title: string; text: string } | null>(null);

  async function openBundle() {
    setError(null);
    setProgress({ stage: "Verifying", done: 0, total: null });
    try {
      props.onOpened(await call(commands.openBundle(path, progressChannel(setProgress))));
    } catch (e) {
      setError(describe(e));
    } finally {
      setProgress(null);
    }
  }

  const s = props.summary;
  return (
    <>
      <div className="topbar"><div className="grow"><h1>Offline bundle</h1>
        <div className="muted small">Verify an exported audit bundle on this computer — no server needed</div></div></div>
      <div className="content">
        <div className="card" style={{ display: "flex", flexDirection: "column", gap: 12 }}>
          <PathField label="Audit bundle file" value={path} onChange={setPath} mode="open" testId="bundle-path"
            filters={[{ name: "LOKI audit bundle", extensions: ["jsonl", "ndjson"] }]} />
          <div className="row">
            <span className="muted small grow">Checked against the keys pinned for the server you saw this organization on, and its witness file.</span>
            {progress && <button className="btn" onClick={() => commands.cancelTask()}>Cancel</button>}
            <button className="btn primary" onClick={openBundle} disabled={!path || !!progress} data-testid="bundle-open">Open and verify</button>
          </div>
          <ProgressBar progress={progress} />
          <ErrorNotice error={error} />
        </div>
        {s ? (
          <>
            <OfflineChain summary={s} />
            <div className="card">
              <dl className="kv">
                <dt>File</dt><dd className="mono">{s.path}</dd>
                <dt>SHA-256</dt><dd className="mono small">{s.sha256}</dd>
                <dt>Organization</dt><dd className="mono">{s.org_id ?? "—"}</dd>
                <dt>Events</dt><dd>{(s.events ?? 0).toLocaleString()}</dd>
                <dt>Authenticity</dt><dd>{s.report.authenticity}</dd>
              </dl>
            </div>
            <div className="row">
              <button className="btn primary" onClick={props.onBrowse} data-testid="bundle-browse">Browse events</button>
              <button className="btn" onClick={props.onReport} data-testid="bundle-report">Build a report from it</button>
            </div>
          </>
        ) : (
          <div className="empty">No bundle open. Export one from the audit trail (Export… → Verifiable bundle), or with <span className="mono">lokid audit export</span>.</div>
        )}
      </div>
    </>
  );
}
