// Small building blocks shared by the screens.
import { useState } from "react";
import { open, save } from "@tauri-apps/plugin-dialog";
import type { Progress } from "../bindings";

export function ErrorNotice({ error }: { error: { title: string; text: string } | null }) {
  if (!error) return null;
  return (
    <div className="notice error" role="alert" data-testid="error">
      <strong>{error.title}</strong>
      {error.text}
    </div>
  );
}

export function ProgressBar({ progress }: { progress: Progress | null }) {
  if (!progress) return null;
  const done = progress.done ?? 0;
  const pct = progress.total ? Math.min(100, (done / progress.total) * 100) : null;
  return (
    <div className="field" data-testid="progress" aria-live="polite">
      <div className="row small muted">
        <span className="grow">{progress.stage}…</span>
        <span>{pct !== null ? `${pct.toFixed(0)} %` : formatBytes(done)}</span>
      </div>
      <div className={pct === null ? "progress indeterminate" : "progress"} role="progressbar"
        aria-valuenow={pct ?? undefined} aria-valuemin={0} aria-valuemax={100}>
        <div style={pct !== null ? { width: `${pct}%` } : undefined} />
      </div>
    </div>
  );
}

export function formatBytes(n: number | null): string {
  n = n ?? 0;
  if (n < 1024) return `${n} B`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} KB`;
  return `${(n / 1024 / 1024).toFixed(1)} MB`;
}

/** A file path typed or chosen with the system dialog. */
export function PathField(props: {
  label: string;
  value: string;
  onChange: (v: string) => void;
  mode: "open" | "save";
  defaultName?: string;
  filters?: { name: string; extensions: string[] }[];
  testId: string;
}) {
  const [busy, setBusy] = useState(false);
  async function browse() {
    setBusy(true);
    try {
      const picked =
        props.mode === "save"
          ? await save({ defaultPath: props.value || props.defaultName, filters: props.filters })
          : await open({ multiple: false, directory: false, filters: props.filters });
      if (typeof picked === "string") props.onChange(picked);
    } finally {
      setBusy(false);
    }
  }
  return (
    <div className="field grow">
      <label htmlFor={props.testId}>{props.label}</label>
      <div className="row">
        <input id={props.testId} data-testid={props.testId} className="input grow mono" value={props.value}
          placeholder={props.mode === "save" ? "/home/you/Documents/…" : "/path/to/audit-bundle.jsonl"}
          onChange={(e) => props.onChange(e.target.value)} />
        <button type="button" className="btn" onClick={browse} disabled={busy}>Browse…</button>
      </div>
    </div>
  );
}

export function shortId(id: string | null | undefined): string {
  return id ? id.slice(0, 8) : "—";
}

export function formatTime(t: string): string {
  const d = new Date(t);
  if (Number.isNaN(d.getTime())) return t;
  return d.toISOString().replace("T", " ").slice(0, 19) + " UTC";
}
