/**
 * Dashboard pages, server-rendered with Hono JSX. Nothing here reads secrets: projects are shown
 * through the same fields the API returns, never `tokenEnc` / `webhookSecretEnc`.
 */
import type { Child } from "hono/jsx";
import type { ActivityRow, ConflictRow, DeliveryRow, IssueRow, ProjectRow, SyncRunRow } from "../db/schema";
import { importedIssueIds } from "../db/activity";
import { CHIP_RULES, CHIPS, type Chip } from "../sync/status-chip";
import type { SyncStatus } from "../sync/status";
import type { CredentialStatus } from "../sync/credentials";

export interface Viewer {
  name: string;
  scope: "read" | "admin";
  csrf: string;
}

function Layout(props: { title: string; viewer?: Viewer; refresh?: number; children: Child }) {
  return (
    <html lang="en">
      <head>
        <meta charset="utf-8" />
        <meta name="viewport" content="width=device-width, initial-scale=1" />
        <title>{props.title} · syndarix-sync</title>
        <link rel="stylesheet" href="/ui/assets/app.css" />
        <script src="/ui/assets/app.js" defer></script>
      </head>
      <body>
        <header>
          <a href="/ui/">syndarix-sync</a>
          {props.viewer && (
            <form method="post" action="/ui/logout">
              <input type="hidden" name="_csrf" value={props.viewer.csrf} />
              <span>signed in as {props.viewer.name} </span>
              <button type="submit">Sign out</button>
            </form>
          )}
        </header>
        <main data-refresh={props.refresh ? String(props.refresh) : undefined}>{props.children}</main>
      </body>
    </html>
  );
}

export function LoginPage(props: { error?: string }) {
  return (
    <Layout title="Sign in">
      <h1>Sign in</h1>
      {props.error && <p class="error" role="alert">{props.error}</p>}
      <form method="post" action="/ui/login">
        <label for="token">API token</label> <input id="token" name="token" type="password" autocomplete="off" required />{" "}
        <button type="submit">Sign in</button>
      </form>
    </Layout>
  );
}

export function ChipView(props: { chip: Chip; reason?: string | null }) {
  const chip = <span class={`chip chip-${props.chip.replace(" ", "-")}`}>{props.chip}</span>;
  if (!props.reason) return chip;
  return (
    <>
      {chip} <span class="chip-reason">{props.reason}</span>
    </>
  );
}

/** The credential's rate-limit budget as its tracker last reported it (shared by the credential's projects). */
export function RateLimitView(props: { credential: CredentialStatus | null; run: SyncRunRow | null }) {
  const rate = props.credential?.rateLimit;
  if (rate?.limitedUntil) return <span class="rate-limit">spent: waits until {when(rate.limitedUntil)}</span>;
  if (rate && rate.remaining !== null) {
    return (
      <span class="rate-limit">
        {rate.remaining} left{rate.resetAt ? <> · resets {when(rate.resetAt)}</> : null}
      </span>
    );
  }
  if (props.run?.resumeAt) return <span class="rate-limit">limited until {when(props.run.resumeAt)}</span>;
  return <span class="muted">not reported</span>;
}

function when(iso: string | null) {
  return iso ? <time datetime={iso}>{iso.replace("T", " ").slice(0, 19)}</time> : <span class="muted">never</span>;
}

function lag(seconds: number | null) {
  if (seconds === null) return "—";
  if (seconds < 120) return `${seconds}s`;
  if (seconds < 7200) return `${Math.round(seconds / 60)} min`;
  return `${Math.round(seconds / 3600)} h`;
}

export interface OverviewRow {
  status: SyncStatus;
  chip: Chip;
  /** Why the chip is `paused` or `access lost`, else null. */
  chipReason?: string | null;
  /** The project's credential (rate limit, health), or null when it could not be read. */
  credential?: CredentialStatus | null;
}

export function OverviewPage(props: { viewer: Viewer; rows: OverviewRow[] }) {
  return (
    <Layout title="Overview" viewer={props.viewer} refresh={5}>
      <h1>Projects</h1>
      <table>
        <thead>
          <tr>
            <th scope="col">Project</th>
            <th scope="col">Tracker</th>
            <th scope="col">Direction</th>
            <th scope="col">Status</th>
            <th scope="col">Last successful sync</th>
            <th scope="col">Lag</th>
            <th scope="col">Pushes pending / failed</th>
            <th scope="col">Failed deliveries</th>
            <th scope="col">Open conflicts</th>
            <th scope="col">Rate limit</th>
          </tr>
        </thead>
        <tbody>
          {props.rows.map(({ status: s, chip, chipReason, credential }) => (
            <tr>
              <td>
                <a href={`/ui/projects/${s.project.id}`}>{s.project.name}</a>
              </td>
              <td>
                {s.project.provider} <code>{s.project.repository}</code>
              </td>
              <td>{s.project.syncDirection}</td>
              <td>
                <ChipView chip={chip} reason={chipReason} />
              </td>
              <td>{when(s.project.lastIncrementalSyncAt)}</td>
              <td>{lag(s.lagSeconds)}</td>
              <td>
                {s.pendingPushes} / {s.failedPushes}
              </td>
              <td>{s.failedDeliveries}</td>
              <td>{s.issues.conflict}</td>
              <td>
                <RateLimitView credential={credential ?? null} run={s.activeRun} />
              </td>
            </tr>
          ))}
        </tbody>
      </table>
      {props.rows.length === 0 && <p>No projects yet: create one with <code>POST /api/v1/projects</code>.</p>}
      <h2>What the status means</h2>
      <p>The first rule that holds, in this order:</p>
      <dl class="rules">
        {CHIPS.map((c) => (
          <>
            <dt>
              <ChipView chip={c} />
            </dt>
            <dd>{CHIP_RULES[c]}</dd>
          </>
        ))}
      </dl>
    </Layout>
  );
}

function Csrf(props: { viewer: Viewer }) {
  return <input type="hidden" name="_csrf" value={props.viewer.csrf} />;
}

function ActionButton(props: { viewer: Viewer; action: string; label: string; fields?: Record<string, string> }) {
  if (props.viewer.scope !== "admin") return null;
  return (
    <form method="post" action={props.action} class="inline">
      <Csrf viewer={props.viewer} />
      {Object.entries(props.fields ?? {}).map(([k, v]) => (
        <input type="hidden" name={k} value={v} />
      ))}
      <button type="submit">{props.label}</button>
    </form>
  );
}

/** What a running run knows: a determinate bar when the tracker gave a total, else honest counters. */
function RunProgress(props: { run: SyncRunRow; now: number }) {
  const r = props.run;
  const checkpoint = r.checkpoint ? (JSON.parse(r.checkpoint) as { phase?: string; since?: string | null }) : null;
  const elapsed = r.startedAt ? Math.max(1, (props.now - Date.parse(r.startedAt)) / 1000) : null;
  const rate = elapsed ? (r.fetched / elapsed).toFixed(1) : "—";
  return (
    <section aria-labelledby="running">
      <h2 id="running">
        Running: {r.mode} run <code>{r.id}</code> ({r.status})
      </h2>
      {r.total ? (
        <progress id="run-progress" value={Math.min(r.fetched, r.total)} max={r.total} aria-label="Issues read of the tracker's total">
          {r.fetched} of {r.total}
        </progress>
      ) : (
        <progress id="run-progress" aria-label="Run progress (the tracker gives no total)"></progress>
      )}
      <p id="run-counters">
        {r.total ? `${r.fetched} of ${r.total} issues read` : `${r.fetched} issues read`} · {r.pages} pages · {r.requests} requests · {rate} issues/s
        {checkpoint?.phase === "probe" ? " · probing issues missing from the listing" : ""}
        {checkpoint?.since ? ` · position: updated since ${checkpoint.since}` : ""}
        {r.resumeAt ? ` · waiting until ${r.resumeAt}` : ""}
      </p>
    </section>
  );
}

function durationOf(r: SyncRunRow): number {
  return r.startedAt && r.finishedAt ? Math.max(0, (Date.parse(r.finishedAt) - Date.parse(r.startedAt)) / 1000) : 0;
}

/** Duration, requests and changes per run, oldest left: three rows of bars, each scaled to its maximum. */
function RunChart(props: { runs: SyncRunRow[] }) {
  const runs = [...props.runs].reverse();
  if (runs.length === 0) return <p class="muted">No runs yet.</p>;
  const series = [
    { name: "duration (s)", cls: "duration", value: durationOf },
    { name: "requests", cls: "requests", value: (r: SyncRunRow) => r.requests },
    { name: "changes", cls: "changes", value: (r: SyncRunRow) => r.created + r.updated + r.orphaned },
  ];
  const w = 14;
  const h = 40;
  const width = 90 + runs.length * w;
  return (
    <svg width={width} height={series.length * (h + 12)} role="img" aria-labelledby="chart-title">
      <title id="chart-title">Run history: duration, requests and changes per run, oldest first</title>
      {series.map((s, row) => {
        const max = Math.max(1, ...runs.map(s.value));
        const y0 = row * (h + 12);
        return (
          <g>
            <text x="0" y={y0 + h / 2}>
              {s.name} (max {Math.round(max)})
            </text>
            {runs.map((r, i) => {
              const v = s.value(r);
              const bh = Math.max(1, Math.round((v / max) * h));
              return (
                <rect class={r.status === "failed" ? "failed" : s.cls} x={90 + i * w} y={y0 + h - bh} width={w - 3} height={bh}>
                  <title>
                    {r.mode} {r.status} {r.finishedAt ?? ""}: {Math.round(v)} {s.name}
                  </title>
                </rect>
              );
            })}
          </g>
        );
      })}
    </svg>
  );
}

function json(value: string | null): string {
  return value === null ? "null" : JSON.stringify(JSON.parse(value), null, 1);
}

export interface ProjectPageData {
  viewer: Viewer;
  status: SyncStatus;
  chip: Chip;
  chipReason?: string | null;
  credential?: CredentialStatus | null;
  runs: SyncRunRow[];
  activity: ActivityRow[];
  activityFilter: { kind?: string; source?: string; issueId?: string };
  kinds: readonly string[];
  sources: readonly string[];
  byState: Partial<Record<IssueRow["syncState"], number>>;
  conflicts: ConflictRow[];
  failedPushes: IssueRow[];
  failedDeliveries: DeliveryRow[];
  notice?: string;
  now: number;
}

export function ProjectPage(d: ProjectPageData) {
  const p: ProjectRow = d.status.project;
  const base = `/ui/projects/${p.id}`;
  return (
    <Layout title={p.name} viewer={d.viewer} refresh={3}>
      <h1>
        {p.name} <ChipView chip={d.chip} reason={d.chipReason} />
      </h1>
      {d.notice && <p role="status">{d.notice}</p>}
      <p>
        {p.provider} <code>{p.repository}</code> · {p.syncDirection} · master {p.master} · last successful sync {when(p.lastIncrementalSyncAt)} · lag{" "}
        {lag(d.status.lagSeconds)}
        {p.lastError && <span class="error"> · {p.lastError}</span>}
      </p>
      <p id="credential">
        {d.credential ? (d.credential.kind === "installation" ? `GitHub App installation ${d.credential.installationId}` : "token") : "credential"} · rate limit{" "}
        <RateLimitView credential={d.credential ?? null} run={d.status.activeRun} />
        {d.credential?.tokenExpiresAt && <> · token expires {when(d.credential.tokenExpiresAt)}</>}
        {d.credential?.warning && <span class="error"> · {d.credential.warning}</span>}
      </p>
      <section aria-labelledby="actions">
        <h2 id="actions">Actions</h2>
        <ActionButton viewer={d.viewer} action={`${base}/sync`} label="Sync now" fields={{ mode: "incremental" }} />{" "}
        <ActionButton viewer={d.viewer} action={`${base}/sync`} label="Full reconcile" fields={{ mode: "full" }} />{" "}
        {p.syncEnabled ? (
          <ActionButton viewer={d.viewer} action={`${base}/pause`} label="Pause sync" />
        ) : (
          <ActionButton viewer={d.viewer} action={`${base}/resume`} label="Resume sync" />
        )}
      </section>
      {d.status.activeRun ? <RunProgress run={d.status.activeRun} now={d.now} /> : <p id="no-run">No run is going.</p>}

      <section aria-labelledby="repair">
        <h2 id="repair">Repair</h2>
        <h3>Conflicts ({d.conflicts.length} open)</h3>
        {d.conflicts.length === 0 ? (
          <p class="muted">No open conflicts.</p>
        ) : (
          <table id="conflicts">
            <thead>
              <tr>
                <th scope="col">Issue</th>
                <th scope="col">Field</th>
                <th scope="col">Base</th>
                <th scope="col">Local</th>
                <th scope="col">Tracker</th>
                <th scope="col">Won</th>
                <th scope="col">Settle</th>
              </tr>
            </thead>
            <tbody>
              {d.conflicts.map((c) => (
                <tr>
                  <td>
                    <code>{c.issueId}</code>
                  </td>
                  <td>
                    {c.commentId !== null ? (
                      <>
                        comment body <code class="conflict-comment">{c.commentId}</code>
                      </>
                    ) : (
                      c.field
                    )}
                  </td>
                  <td>
                    <pre>{json(c.baseValue)}</pre>
                  </td>
                  <td>
                    <pre>{json(c.localValue)}</pre>
                  </td>
                  <td>
                    <pre>{json(c.trackerValue)}</pre>
                  </td>
                  <td>{c.resolution}</td>
                  <td>
                    {p.syncDirection !== "inbound" && <ActionButton viewer={d.viewer} action={`${base}/conflicts/${c.id}/resolve`} label="Keep local" fields={{ keep: "local" }} />}{" "}
                    <ActionButton viewer={d.viewer} action={`${base}/conflicts/${c.id}/resolve`} label="Take tracker" fields={{ keep: "tracker" }} />
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        )}
        <h3>Failed pushes ({d.failedPushes.length})</h3>
        {d.failedPushes.length === 0 ? (
          <p class="muted">No failed pushes.</p>
        ) : (
          <table id="failed-pushes">
            <thead>
              <tr>
                <th scope="col">Issue</th>
                <th scope="col">Title</th>
                <th scope="col">Error</th>
                <th scope="col">Retry</th>
              </tr>
            </thead>
            <tbody>
              {d.failedPushes.map((i) => (
                <tr>
                  <td>
                    <code>{i.id}</code>
                  </td>
                  <td>{i.title}</td>
                  <td>{i.syncError}</td>
                  <td>
                    <ActionButton viewer={d.viewer} action={`${base}/issues/${i.id}/retry-push`} label="Retry push" />
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        )}
        <h3>Failed webhook deliveries ({d.failedDeliveries.length})</h3>
        {d.failedDeliveries.length === 0 ? (
          <p class="muted">No failed deliveries.</p>
        ) : (
          <table id="failed-deliveries">
            <thead>
              <tr>
                <th scope="col">Delivery</th>
                <th scope="col">Event</th>
                <th scope="col">Received</th>
                <th scope="col">Error</th>
                <th scope="col">Replay</th>
              </tr>
            </thead>
            <tbody>
              {d.failedDeliveries.map((r) => (
                <tr>
                  <td>
                    <code>{r.deliveryId}</code>
                  </td>
                  <td>
                    {r.event}
                    {r.action ? `/${r.action}` : ""}
                  </td>
                  <td>{when(r.receivedAt)}</td>
                  <td>{r.error}</td>
                  <td>
                    <ActionButton viewer={d.viewer} action={`${base}/deliveries/${r.id}/replay`} label="Replay" />
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        )}
      </section>

      <section aria-labelledby="issues">
        <h2 id="issues">Issues by sync state</h2>
        <table id="issue-states">
          <thead>
            <tr>
              {(["synced", "pending_push", "conflict", "error", "orphaned"] as const).map((s) => (
                <th scope="col">{s}</th>
              ))}
            </tr>
          </thead>
          <tbody>
            <tr>
              {(["synced", "pending_push", "conflict", "error", "orphaned"] as const).map((s) => (
                <td>{d.byState[s] ?? 0}</td>
              ))}
            </tr>
          </tbody>
        </table>
      </section>

      <section aria-labelledby="runs">
        <h2 id="runs">Run history</h2>
        <RunChart runs={d.runs} />
        <table id="run-table">
          <thead>
            <tr>
              <th scope="col">Run</th>
              <th scope="col">Mode</th>
              <th scope="col">Trigger</th>
              <th scope="col">Status</th>
              <th scope="col">Finished</th>
              <th scope="col">Duration</th>
              <th scope="col">Requests</th>
              <th scope="col">Read</th>
              <th scope="col">Created / updated / orphaned</th>
              <th scope="col">Conflicts</th>
            </tr>
          </thead>
          <tbody>
            {d.runs.map((r) => (
              <tr>
                <td>
                  <code>{r.id.slice(-12)}</code>
                </td>
                <td>{r.mode}</td>
                <td>{r.trigger}</td>
                <td>
                  {r.status}
                  {r.error && <span class="error"> {r.error}</span>}
                </td>
                <td>{when(r.finishedAt)}</td>
                <td>{r.finishedAt ? `${durationOf(r).toFixed(1)}s` : "—"}</td>
                <td>{r.requests}</td>
                <td>{r.fetched}</td>
                <td>
                  {r.created} / {r.updated} / {r.orphaned}
                </td>
                <td>{r.conflicts}</td>
              </tr>
            ))}
          </tbody>
        </table>
      </section>

      <section aria-labelledby="activity">
        <h2 id="activity">Activity (newest first)</h2>
        <form method="get" action={base}>
          <label for="f-kind">Kind</label>{" "}
          <select id="f-kind" name="kind">
            <option value="">any</option>
            {d.kinds.map((k) => (
              <option value={k} selected={d.activityFilter.kind === k}>
                {k}
              </option>
            ))}
          </select>{" "}
          <label for="f-source">Source</label>{" "}
          <select id="f-source" name="source">
            <option value="">any</option>
            {d.sources.map((s) => (
              <option value={s} selected={d.activityFilter.source === s}>
                {s}
              </option>
            ))}
          </select>{" "}
          <label for="f-issue">Issue id</label> <input id="f-issue" name="issueId" value={d.activityFilter.issueId ?? ""} />{" "}
          <button type="submit">Filter</button>
        </form>
        <table id="activity-table">
          <thead>
            <tr>
              <th scope="col">#</th>
              <th scope="col">When</th>
              <th scope="col">Kind</th>
              <th scope="col">Source</th>
              <th scope="col">Who / run / delivery</th>
              <th scope="col">Issue</th>
              <th scope="col">Changes</th>
              <th scope="col">Detail</th>
            </tr>
          </thead>
          <tbody>
            {d.activity.map((a) => (
              <tr>
                <td>{a.seq}</td>
                <td>{when(a.createdAt)}</td>
                <td>{a.kind}</td>
                <td>{a.source}</td>
                <td>{a.actor ?? a.deliveryId ?? (a.runId ? `run …${a.runId.slice(-8)}` : "")}</td>
                <td>{a.issueId ? <code>{a.issueId.slice(-12)}</code> : ""}</td>
                <td>
                  {a.changes && (
                    <pre>
                      {Object.entries(JSON.parse(a.changes) as Record<string, { before: unknown; after: unknown }>)
                        .map(([f, c]) => `${f}: ${JSON.stringify(c.before)} → ${JSON.stringify(c.after)}`)
                        .join("\n")
                        .slice(0, 600)}
                    </pre>
                  )}
                </td>
                <td>{a.kind === "issue.imported" ? `imported ${importedIssueIds(a).length} issues` : a.detail}</td>
              </tr>
            ))}
          </tbody>
        </table>
      </section>
    </Layout>
  );
}
