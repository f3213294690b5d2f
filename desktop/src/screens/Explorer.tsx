import { useCallback, useEffect, useMemo, useRef, useState } from "react";
import { useVirtualizer } from "@tanstack/react-virtual";
import { call, commands, progressChannel } from "../api";
import type { AuditEvent_Serialize as AuditEvent, AuditFilter_Deserialize as AuditFilter, EventDetail_Serialize as EventDetail, OfflineSummary, Person, Progress, SessionView } from "../bindings";
import { ErrorNotice, PathField, ProgressBar, formatBytes, formatTime, shortId } from "../components/common";
import { describe } from "../errors";
import { OfflineChain, OnlineChain } from "./ChainStatus";

const PAGE = 200;
const EMPTY: AuditFilter = { actor: null, action: null, resource_type: null, resource_id: null, outcome: null, from: null, to: null };

function toIso(local: string | null | undefined): string | null {
  if (!local) return null;
  const d = new Date(local.length === 16 ? local + ":00Z" : local);
  return Number.isNaN(d.getTime()) ? local : d.toISOString();
}

export function Explorer(props: { source: "online" | "offline"; session: SessionView | null; offline: OfflineSummary | null; orgName?: string }) {
  const { source } = props;
  const [draft, setDraft] = useState<AuditFilter>(EMPTY);
  const [filter, setFilter] = useState<AuditFilter>(EMPTY);
  const [rows, setRows] = useState<AuditEvent[]>([]);
  const [cursor, setCursor] = useState<number | null>(null);
  const [done, setDone] = useState(false);
  const [loading, setLoading] = useState(false);
  const [error, setError] = useState<{ title: string; text: string } | null>(null);
  const [selected, setSelected] = useState<string | null>(null);
  const [detail, setDetail] = useState<EventDetail | null>(null);
  const [people, setPeople] = useState<Person[]>([]);
  const generation = useRef(0);
  const parentRef = useRef<HTMLDivElement>(null);

  const emails = useMemo(() => new Map(people.map((p) => [p.id, p.email])), [people]);
  const actorName = (e: AuditEvent) =>
    e.actor.kind === "system" ? "system" : emails.get(e.actor.user_id ?? "") ?? `${e.actor.kind} ${shortId(e.actor.user_id ?? e.actor.api_key_id)}`;

  useEffect(() => {
    if (source === "online") call(commands.orgPeople()).then(setPeople).catch(() => setPeople([]));
  }, [source]);

  const load = useCallback(async (reset: boolean) => {
    const gen = reset ? ++generation.current : generation.current;
    setLoading(true);
    setError(null);
    try {
      const page = await call(commands.searchEvents(source, { ...filter, from: toIso(filter.from), to: toIso(filter.to) }, reset ? null : cursor, PAGE));
      if (gen !== generation.current) return;
      setRows((r) => (reset ? page.events : [...r, ...page.events]));
      setCursor(page.next_cursor ?? null);
      setDone(page.next_cursor == null);
    } catch (e) {
      if (gen === generation.current) setError(describe(e));
    } finally {
      if (gen === generation.current) setLoading(false);
    }
  }, [source, filter, cursor]);

  useEffect(() => {
    setRows([]);
    setCursor(null);
    setDone(false);
    setSelected(null);
    setDetail(null);
    load(true);
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [filter, source]);

  const virt = useVirtualizer({ count: rows.length + (done ? 0 : 1), getScrollElement: () => parentRef.current, estimateSize: () => 36, overscan: 12,
    // Before layout (and in tests) assume a window-sized viewport.
    initialRect: { width: 1000, height: 600 } });
  const items = virt.getVirtualItems();
  useEffect(() => {
    const last = items[items.length - 1];
    if (last && last.index >= rows.length - 1 && !done && !loading && rows.length > 0) load(false);
  }, [items, rows.length, done, loading, load]);

  async function open(id: string) {
    setSelected(id);
    try {
      setDetail(await call(commands.getEvent(source, id)));
    } catch (e) {
      setError(describe(e));
    }
  }

  function onKey(e: React.KeyboardEvent, index: number) {
    const next = e.key === "ArrowDown" ? index + 1 : e.key === "ArrowUp" ? index - 1 : null;
    if (next !== null && next >= 0 && next < rows.length) {
      e.preventDefault();
      virt.scrollToIndex(next);
      requestAnimationFrame(() => (parentRef.current?.querySelector(`[data-index="${next}"]`) as HTMLElement | null)?.focus());
    } else if (e.key === "Enter") {
      open(rows[index].id);
    } else if (e.key === "Escape") {
      setDetail(null);
      setSelected(null);
    }
  }

  const set = (k: keyof AuditFilter) => (e: React.ChangeEvent<HTMLInputElement | HTMLSelectElement>) =>
    setDraft((d) => ({ ...d, [k]: e.target.value || null }));

  return (
    <>
      <div className="topbar">
        <div className="grow">
          <h1>Audit trail</h1>
          <div className="muted small">{source === "online" ? props.orgName ?? "" : `Offline · ${props.offline?.path ?? "no bundle open"}`}</div>
        </div>
        {source === "online" && <ExportBar />}
      </div>
      <div className="content">
        {source === "online" ? <OnlineChain /> : props.offline ? <OfflineChain summary={props.offline} /> : null}
        <form className="filters" onSubmit={(e) => { e.preventDefault(); setFilter(draft); }} data-testid="filters">
          <div className="field">
            <label htmlFor="f-actor">Actor</label>
            {people.length > 0 ? (
              <select id="f-actor" className="input" value={draft.actor ?? ""} onChange={set("actor")} data-testid="f-actor">
                <option value="">Anyone</option>
                {people.map((p) => <option key={p.id} value={p.id}>{p.email}</option>)}
              </select>
            ) : (
              <input id="f-actor" className="input mono" placeholder="user id" value={draft.actor ?? ""} onChange={set("actor")} data-testid="f-actor" />
            )}
          </div>
          <div className="field"><label htmlFor="f-action">Action</label>
            <input id="f-action" className="input mono" placeholder="member.* or auth.login" value={draft.action ?? ""} onChange={set("action")} data-testid="f-action" /></div>
          <div className="field"><label htmlFor="f-rtype">Resource type</label>
            <input id="f-rtype" className="input mono" placeholder="organization" value={draft.resource_type ?? ""} onChange={set("resource_type")} data-testid="f-rtype" /></div>
          <div className="field"><label htmlFor="f-rid">Resource id</label>
            <input id="f-rid" className="input mono" value={draft.resource_id ?? ""} onChange={set("resource_id")} /></div>
          <div className="field"><label htmlFor="f-outcome">Outcome</label>
            <select id="f-outcome" className="input" value={draft.outcome ?? ""} onChange={set("outcome")} data-testid="f-outcome">
              <option value="">Any</option><option value="success">Success</option><option value="denied">Denied</option><option value="failure">Failure</option>
            </select></div>
          <div className="field span2"><label htmlFor="f-from">From (UTC)</label>
            <input id="f-from" type="datetime-local" className="input" value={draft.from ?? ""} onChange={set("from")} /></div>
          <div className="field span2"><label htmlFor="f-to">To (UTC)</label>
            <input id="f-to" type="datetime-local" className="input" value={draft.to ?? ""} onChange={set("to")} /></div>
          <div className="row actions">
            <button className="btn primary" type="submit" data-testid="apply-filters">Apply</button>
            <button className="btn" type="button" onClick={() => { setDraft(EMPTY); setFilter(EMPTY); }}>Clear</button>
          </div>
        </form>
        <ErrorNotice error={error} />
        <div className={detail ? "explorer with-detail" : "explorer"}>
          <div className="table" role="grid" aria-label="Audit events" aria-rowcount={rows.length}>
            <div className="thead" role="row">
              <div>Seq</div><div>Time (UTC)</div><div>Action</div><div>Actor</div><div className="col-resource">Resource</div><div>Outcome</div>
            </div>
            <div className="tbody" ref={parentRef} data-testid="event-table">
              {rows.length === 0 && !loading && done && (
                <div className="empty" data-testid="empty">No events match these filters.</div>
              )}
              <div style={{ height: virt.getTotalSize(), position: "relative" }}>
                {items.map((it) => {
                  const e = rows[it.index];
                  if (!e)
                    return (
                      <div key="loader" className="tr" style={{ transform: `translateY(${it.start}px)`, height: it.size }}>
                        <div style={{ gridColumn: "1 / -1" }}><div className="skeleton" /></div>
                      </div>
                    );
                  return (
                    <div key={e.id} role="row" tabIndex={0} data-index={it.index} data-testid="event-row" data-action={e.action}
                      className="tr" aria-selected={selected === e.id}
                      style={{ transform: `translateY(${it.start}px)`, height: it.size }}
                      onClick={() => open(e.id)} onKeyDown={(k) => onKey(k, it.index)}>
                      <div className="mono">{e.seq}</div>
                      <div className="mono small">{formatTime(e.time).replace(" UTC", "")}</div>
                      <div className="mono">{e.action}{e.count > 1 ? ` ×${e.count}` : ""}</div>
                      <div>{actorName(e)}</div>
                      <div className="mono small col-resource">{e.resource_type ? `${e.resource_type} ${shortId(e.resource_id)}` : "—"}</div>
                      <div><span className={`badge ${e.outcome === "success" ? "ok" : e.outcome === "denied" ? "warn" : "bad"}`}>{e.outcome}</span></div>
                    </div>
                  );
                })}
              </div>
            </div>
            <div className="tfoot">
              <span data-testid="row-count">{rows.length.toLocaleString()} events loaded{done ? "" : " · scroll for more"}</span>
              <span>{loading ? "Loading…" : "↑↓ to move · Enter for detail · Esc to close"}</span>
            </div>
          </div>
          {detail && <Detail detail={detail} actor={actorName(detail.event)} onClose={() => { setDetail(null); setSelected(null); }} />}
        </div>
      </div>
    </>
  );
}

function show(v: unknown): string {
  if (v === undefined || v === null) return "—";
  return typeof v === "string" ? v : JSON.stringify(v);
}

function Detail({ detail, actor, onClose }: { detail: EventDetail; actor: string; onClose: () => void }) {
  const e = detail.event;
  const [showAll, setShowAll] = useState(false);
  const changes = detail.changes.filter((c) => c.change !== "unchanged");
  const unchanged = detail.changes.length - changes.length;
  const shown = showAll ? detail.changes : changes;
  return (
    <section className="detail" aria-label="Event detail" data-testid="event-detail">
      <div className="row">
        <h2 className="grow mono">{e.action}</h2>
        <button className="btn small" onClick={onClose} aria-label="Close detail">Close</button>
      </div>
      <dl className="kv">
        <dt>Time</dt><dd className="mono">{formatTime(e.time)}</dd>
        <dt>Seq</dt><dd className="mono">{e.seq}</dd>
        <dt>Actor</dt><dd>{actor}</dd>
        <dt>Outcome</dt><dd>{e.outcome}</dd>
        <dt>Resource</dt><dd className="mono">{e.resource_type ? `${e.resource_type} ${e.resource_id ?? ""}` : "—"}</dd>
        {e.ip && (<><dt>Address</dt><dd className="mono">{e.ip}</dd></>)}
        {e.request_id && (<><dt>Request</dt><dd className="mono">{e.request_id}</dd></>)}
        <dt>Hash</dt><dd className="mono small">{e.hash}</dd>
      </dl>
      <h3>Changes {detail.changes.length > 0 ? `(${changes.length} of ${detail.changes.length} fields)` : ""}</h3>
      {detail.changes.length === 0 ? (
        <div className="muted small">This event records no before/after state.</div>
      ) : (
        <table className="diff" data-testid="diff">
          <thead><tr><th>Field</th><th>Before</th><th>After</th></tr></thead>
          <tbody>
            {shown.map((c) => (
              <tr key={c.field} className={c.change} data-testid={`diff-${c.change}`}>
                <td>{c.field}</td><td className="before">{show(c.before)}</td><td className="after">{show(c.after)}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      {unchanged > 0 && (
        <button className="linkish small" onClick={() => setShowAll((v) => !v)} data-testid="toggle-unchanged">
          {showAll ? "Hide unchanged fields" : `Show ${unchanged} unchanged field${unchanged === 1 ? "" : "s"}`}
        </button>
      )}
      {Object.keys(e.metadata ?? {}).length > 0 && (
        <>
          <h3>Metadata</h3>
          <pre className="mono small" style={{ margin: 0, whiteSpace: "pre-wrap" }}>{JSON.stringify(e.metadata, null, 2)}</pre>
        </>
      )}
    </section>
  );
}

function ExportBar() {
  const [open, setOpen] = useState(false);
  const [format, setFormat] = useState<"bundle" | "csv">("bundle");
  const [path, setPath] = useState("");
  const [progress, setProgress] = useState<Progress | null>(null);
  const [result, setResult] = useState<string | null>(null);
  const [error, setError] = useState<{ title: string; text: string } | null>(null);
  async function run() {
    setError(null);
    setResult(null);
    setProgress({ stage: "Downloading", done: 0, total: null });
    try {
      const r = await call(commands.exportAudit(format, path, progressChannel(setProgress)));
      setResult(`Saved ${formatBytes(r.bytes)} to ${r.path}`);
    } catch (e) {
      setError(describe(e));
    } finally {
      setProgress(null);
    }
  }
  if (!open) return <button className="btn" onClick={() => setOpen(true)} data-testid="export-open">Export…</button>;
  return (
    <div className="card" style={{ position: "absolute", right: 20, top: 64, width: 520, zIndex: 5, display: "flex", flexDirection: "column", gap: 10, boxShadow: "0 12px 30px rgba(0,0,0,.18)" }} data-testid="export-panel">
      <div className="row"><h2 className="grow">Export the audit trail</h2><button className="btn small" onClick={() => setOpen(false)}>Close</button></div>
      <div className="field"><label htmlFor="x-format">Format</label>
        <select id="x-format" className="input" value={format} onChange={(e) => setFormat(e.target.value as "bundle" | "csv")} data-testid="export-format">
          <option value="bundle">Verifiable bundle (.jsonl)</option><option value="csv">Spreadsheet (.csv)</option>
        </select></div>
      <PathField label="Save to" value={path} onChange={setPath} mode="save" testId="export-path"
        defaultName={format === "bundle" ? "audit-bundle.jsonl" : "audit.csv"} />
      <ProgressBar progress={progress} />
      <ErrorNotice error={error} />
      {result && <div className="notice ok" data-testid="export-done">{result}</div>}
      <div className="row"><span className="grow" /><button className="btn primary" onClick={run} disabled={!!progress || !path} data-testid="export-run">Export</button></div>
    </div>
  );
}
