/**
 * Dashboard pages, server-rendered with Hono JSX. Nothing here reads secrets: projects are shown
 * through the same fields the API returns, never `tokenEnc` / `webhookSecretEnc`.
 */
import { raw } from "hono/html";
import type { Child } from "hono/jsx";
import type { IssueLabel, TroubledPush } from "../db/health";
import type { ActivityRow, ConflictRow, DeliveryRow, IssueRow, ProjectRow, SyncRunRow } from "../db/schema";
import { importedIssueIds } from "../db/activity";
import { CHIP_RULES, CHIPS, stuckPhaseAdvice, stuckPhasesOf, type Chip } from "../sync/status-chip";
import type { Overview, OverviewQuery, ProjectHealthView, SyncStatus } from "../sync/status";
import type { CredentialStatus } from "../sync/credentials";

export interface Viewer {
  name: string;
  scope: "read" | "admin";
  csrf: string;
}

/** Every dashboard page: DOCTYPE, head, the header with the subscriptions link and sign-out. */
export function Layout(props: { title: string; viewer?: Viewer; refresh?: number; children: Child }) {
  return (
    <>
    {raw("<!DOCTYPE html>")}
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
          {props.viewer && <a href="/ui/subscriptions">Event subscriptions</a>}
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
    </>
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

/** "5 min ago" (or "in 3 min"), with the absolute UTC time on hover; absolute when `now` is not given. */
export function when(iso: string | null, now?: number) {
  if (!iso) return <span class="muted">never</span>;
  const absolute = `${iso.replace("T", " ").slice(0, 19)} UTC`;
  if (now === undefined) return <time datetime={iso}>{absolute}</time>;
  return (
    <time datetime={iso} title={absolute}>
      {relative(Date.parse(iso) - now)}
    </time>
  );
}

function relative(deltaMs: number): string {
  const s = Math.round(Math.abs(deltaMs) / 1000);
  const text = s < 60 ? `${s} s` : s < 7200 ? `${Math.round(s / 60)} min` : s < 172_800 ? `${Math.round(s / 3600)} h` : `${Math.round(s / 86_400)} days`;
  return deltaMs > 0 ? `in ${text}` : `${text} ago`;
}

/** A pull request (GitLab: merge request) of an issue, as its row shows it. */
export interface IssuePullRequest {
  number: number;
  url: string;
  title: string;
  state: "open" | "draft" | "merged" | "closed";
}

/** An issue's name, and its pull requests when the page read them. */
export type IssueRowLabel = IssueLabel & { pullRequests?: readonly IssuePullRequest[] };

/** The chip colours of the health chips, reused: open in progress (blue), draft (grey), merged (green), closed unmerged (red). */
const PR_CHIP: Record<IssuePullRequest["state"], string> = { open: "chip-syncing", draft: "chip-paused", merged: "chip-healthy", closed: "chip-failing" };

/** `#7 open` (GitLab `!7 open`) linked to the pull request, one per pull request of the issue. */
function PullRequestChips(props: { pullRequests: readonly IssuePullRequest[] }) {
  return (
    <span class="issue-prs">
      {props.pullRequests.map((p) => (
        <>
          {" "}
          <a class={`chip ${PR_CHIP[p.state]}`} href={p.url} title={p.title}>
            {p.url.includes("/merge_requests/") ? "!" : "#"}
            {p.number} {p.state}
          </a>
        </>
      ))}
    </span>
  );
}

/** `#12 Title` linked to the tracker; before the issue is linked, its title and local id; then its pull requests. */
export function IssueName(props: { id: string; labels: Map<string, IssueRowLabel> }) {
  const label = props.labels.get(props.id);
  if (!label) return <code>{props.id.slice(-12)}</code>;
  const text = `#${label.number} ${label.title}`;
  const name =
    label.number === null ? (
      <span>
        {label.title} <code class="muted">{props.id.slice(-12)}</code>
      </span>
    ) : label.url ? (
      <a href={label.url}>{text}</a>
    ) : (
      <span>{text}</span>
    );
  if (!label.pullRequests?.length) return name;
  return (
    <>
      {name}
      <PullRequestChips pullRequests={label.pullRequests} />
    </>
  );
}

function lag(seconds: number | null) {
  if (seconds === null) return "—";
  if (seconds < 120) return `${seconds}s`;
  if (seconds < 7200) return `${Math.round(seconds / 60)} min`;
  return `${Math.round(seconds / 3600)} h`;
}

function overviewHref(query: Partial<OverviewQuery>): string {
  const params = new URLSearchParams();
  for (const [k, v] of Object.entries(query)) if (v !== undefined && v !== "" && !(k === "page" && v === 1) && !(k === "sort" && v === "status")) params.set(k, String(v));
  const text = params.toString();
  return text ? `/ui/?${text}` : "/ui/";
}

export function OverviewPage(props: { viewer: Viewer; data: Overview; query: Omit<OverviewQuery, "limit">; now: number }) {
  const { data, query } = props;
  const base = { q: query.q, status: query.status, sort: query.sort };
  return (
    <Layout title="Overview" viewer={props.viewer} refresh={5}>
      <h1>Projects</h1>
      {props.viewer.scope === "admin" && (
        <p>
          <a href="/ui/projects/new">New project</a>
        </p>
      )}
      <p id="chip-summary">
        {data.total} projects:{" "}
        {CHIPS.filter((c) => data.byChip[c] > 0).map((c) => (
          <>
            <a href={overviewHref({ ...base, status: c, page: 1 })}>
              <ChipView chip={c} /> {data.byChip[c]}
            </a>{" "}
          </>
        ))}
      </p>
      <form method="get" action="/ui/" class="filters">
        <label for="o-q">Search</label> <input id="o-q" name="q" type="search" value={query.q ?? ""} />{" "}
        <label for="o-status">Status</label>{" "}
        <select id="o-status" name="status">
          <option value="">any</option>
          {CHIPS.map((c) => (
            <option value={c} selected={query.status === c}>
              {c}
            </option>
          ))}
        </select>{" "}
        <label for="o-sort">Sort</label>{" "}
        <select id="o-sort" name="sort">
          {(["status", "name", "lag"] as const).map((v) => (
            <option value={v} selected={query.sort === v}>
              {v === "status" ? "status (worst first)" : v === "lag" ? "lag (largest first)" : "name"}
            </option>
          ))}
        </select>{" "}
        <button type="submit">Show</button>
      </form>
      <div class="scroll">
        <table id="projects">
          <thead>
            <tr>
              <th scope="col">Project</th>
              <th scope="col">Status</th>
              <th scope="col" class="wide">Tracker</th>
              <th scope="col" class="wide">Direction</th>
              <th scope="col" class="wide">Last successful sync</th>
              <th scope="col">Lag</th>
              <th scope="col" class="wide">Pushes pending / retrying / failed</th>
              <th scope="col" class="wide">Failed deliveries</th>
              <th scope="col" class="wide">Open conflicts</th>
              <th scope="col" class="wide">Rate limit</th>
            </tr>
          </thead>
          <tbody>
            {data.rows.map((row) => (
              <OverviewRowView row={row} now={props.now} />
            ))}
          </tbody>
        </table>
      </div>
      <p id="pager">
        {data.matched === data.total ? `${data.total} projects` : `${data.matched} of ${data.total} projects match`} · page {data.page} of {data.pages}{" "}
        {data.page > 1 && (
          <a href={overviewHref({ ...base, page: data.page - 1 })} rel="prev">
            previous page
          </a>
        )}{" "}
        {data.page < data.pages && (
          <a href={overviewHref({ ...base, page: data.page + 1 })} rel="next">
            next page
          </a>
        )}
      </p>
      {data.total === 0 && (
        <p>
          No projects yet: create one with <a href="/ui/projects/new">New project</a> or <code>POST /api/v1/projects</code>.
        </p>
      )}
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

function OverviewRowView(props: { row: ProjectHealthView; now: number }) {
  const { summary: s, chip, chipReason, credential } = props.row;
  const h = s.health;
  return (
    <tr>
      <td>
        <a href={`/ui/projects/${s.project.id}`}>{s.project.name}</a>
      </td>
      <td>
        <ChipView chip={chip} reason={chipReason} />
      </td>
      <td class="wide">
        {s.project.provider} <code>{s.project.repository}</code>
      </td>
      <td class="wide">{s.project.syncDirection}</td>
      <td class="wide">{when(s.project.lastIncrementalSyncAt, props.now)}</td>
      <td>{lag(s.lagSeconds)}</td>
      <td class="wide">
        {h.pushes.pending + h.commentPushes.pending} / {h.pushes.retrying + h.commentPushes.retrying} / {h.pushes.failed + h.commentPushes.failed}
      </td>
      <td class="wide">{h.failedDeliveries}</td>
      <td class="wide">{h.openConflicts}</td>
      <td class="wide">
        <RateLimitView credential={credential ?? null} run={h.activeRun} />
      </td>
    </tr>
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

const PHASES: Record<string, string> = {
  list: "phase 1 of 3: issues (reading the tracker's listing)",
  probe: "phase 2 of 3: issues missing from the listing (probing each)",
  comments: "phase 3 of 3: comments",
};
const COMMENT_STAGES: Record<string, string> = { list: "reading the listing", deletions: "checking deletions", waiting: "applying comments that waited for their issue" };

/** "about 3 min left": only when the tracker gave a total and the rate is known. */
function timeLeft(left: number, perSecond: number): string | null {
  if (!(perSecond > 0) || left <= 0) return null;
  const s = Math.round(left / perSecond);
  return s < 90 ? `about ${s} s left` : s < 5400 ? `about ${Math.round(s / 60)} min left` : `about ${Math.round(s / 3600)} h left`;
}

/** What a running run knows: its phase, a determinate bar when the tracker gave a total, else honest counters. */
function RunProgress(props: { run: SyncRunRow; now: number }) {
  const r = props.run;
  const checkpoint = r.checkpoint ? (JSON.parse(r.checkpoint) as { phase?: string; since?: string | null; comments?: { stage?: string } }) : null;
  const phase = checkpoint?.phase ?? "list";
  const elapsed = r.startedAt ? Math.max(1, (props.now - Date.parse(r.startedAt)) / 1000) : null;
  const perSecond = elapsed ? r.fetched / elapsed : 0;
  const rate = elapsed ? perSecond.toFixed(1) : "—";
  // The bar never passes its end: re-read same-second blocks can make `fetched` pass the total.
  const read = r.total ? Math.min(r.fetched, r.total) : r.fetched;
  const eta = r.total && phase === "list" ? timeLeft(r.total - read, perSecond) : null;
  return (
    <section aria-labelledby="running">
      <h2 id="running">
        Running: {r.mode} run <code>{r.id}</code> ({r.status})
      </h2>
      <p id="run-phase">
        {PHASES[phase] ?? phase}
        {phase === "comments" && checkpoint?.comments?.stage ? ` — ${COMMENT_STAGES[checkpoint.comments.stage] ?? checkpoint.comments.stage}` : ""}
      </p>
      {r.total && phase === "list" ? (
        <progress id="run-progress" value={read} max={r.total} aria-label="Issues read of the tracker's total">
          {read} of {r.total}
        </progress>
      ) : (
        <progress id="run-progress" aria-label="Run progress (no total for this phase)"></progress>
      )}
      <p id="run-counters">
        {r.total ? `${read} of ${r.total} issues read` : `${r.fetched} issues read`}
        {r.total && r.fetched > 0 ? ` (${Math.min(100, Math.floor((read / r.total) * 100))} %)` : ""} · {r.created} created · {r.updated} updated · {r.pages} pages ·{" "}
        {r.requests} requests · {rate} issues/s
        {eta ? ` · ${eta}` : ""}
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
  // The labels get their own column, wide enough for "duration (s) (max 1234)" at a readable size.
  const labels = 170;
  const width = labels + runs.length * w;
  const height = series.length * (h + 12);
  return (
    <svg width={width} height={height} viewBox={`0 0 ${width} ${height}`} role="img" aria-labelledby="chart-title">
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
                <rect class={r.status === "failed" ? "failed" : s.cls} x={labels + i * w} y={y0 + h - bh} width={w - 3} height={bh}>
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

/**
 * Each phase of a run keeps its own cursor: issues, comments, pull requests (GitLab merge requests
 * and Gitea pulls have a listing of their own; GitHub's come with its issues). A stuck phase shows
 * since when, the tracker's answer and what to do, while the others go on.
 */
function PhasesView(props: { project: ProjectRow; now: number }) {
  const p = props.project;
  const stuck = new Map(stuckPhasesOf(p).map((x) => [x.phase, x]));
  const rows: { phase: "issues" | "comments" | "pull requests"; cursor: string | null }[] = [
    { phase: "issues", cursor: p.cursor },
    { phase: "comments", cursor: p.commentCursor },
  ];
  if (p.provider !== "github" || p.pullRequestCursor || p.pullRequestPhaseError) rows.push({ phase: "pull requests", cursor: p.pullRequestCursor });
  return (
    <section aria-labelledby="phases">
      <h2 id="phases">Sync phases</h2>
      <table id="phase-table">
        <thead>
          <tr>
            <th scope="col">Phase</th>
            <th scope="col">Synced up to</th>
            <th scope="col">State</th>
            <th scope="col">What to do</th>
          </tr>
        </thead>
        <tbody>
          {rows.map((r) => {
            const x = r.phase === "issues" ? undefined : stuck.get(r.phase);
            return (
              <tr data-phase={r.phase} class={x ? "phase-stuck" : undefined}>
                <th scope="row">{r.phase}</th>
                <td>{when(r.cursor, props.now)}</td>
                {x ? (
                  <>
                    <td>
                      <span class="error">stuck since {when(x.since, props.now)}</span>: <span class="phase-error">{x.error}</span>
                    </td>
                    <td>{stuckPhaseAdvice(x)}</td>
                  </>
                ) : (
                  <>
                    <td>{r.phase === "issues" && p.lastError ? <span class="error">{p.lastError}</span> : "ok"}</td>
                    <td class="muted">{r.phase === "issues" && p.lastError ? "see the run history below" : "nothing"}</td>
                  </>
                )}
              </tr>
            );
          })}
        </tbody>
      </table>
    </section>
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
  activityFilter: { kind?: string | undefined; source?: string | undefined; issue?: string | undefined };
  kinds: readonly string[];
  sources: readonly string[];
  byState: Partial<Record<IssueRow["syncState"], number>>;
  conflicts: ConflictRow[];
  /** Failed and retrying pushes of issues and comments. */
  pushes: TroubledPush[];
  failedDeliveries: DeliveryRow[];
  /** `#12 Title` and link of every issue the page names, with its pull requests. */
  labels: Map<string, IssueRowLabel>;
  notice?: string;
  now: number;
  /** Every setting of the project, as a form (src/ui/project-form.tsx). */
  settings?: Child;
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
        {p.provider} <code>{p.repository}</code> · {p.syncDirection} · master {p.master} · last successful sync {when(p.lastIncrementalSyncAt, d.now)} · lag{" "}
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
        <ActionButton viewer={d.viewer} action={`${base}/test-connection`} label="Test connection" />{" "}
        <a href="#settings">Settings</a>{" "}
        {p.syncEnabled ? (
          <ActionButton viewer={d.viewer} action={`${base}/pause`} label="Pause sync" />
        ) : (
          <ActionButton viewer={d.viewer} action={`${base}/resume`} label="Resume sync" />
        )}
      </section>
      {d.status.activeRun ? <RunProgress run={d.status.activeRun} now={d.now} /> : <p id="no-run">No run is going.</p>}
      <PhasesView project={p} now={d.now} />

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
                    <IssueName id={c.issueId} labels={d.labels} />
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
        <h3>Failed and retrying pushes ({d.pushes.length})</h3>
        {d.pushes.length === 0 ? (
          <p class="muted">No failed or retrying pushes.</p>
        ) : (
          <table id="failed-pushes">
            <thead>
              <tr>
                <th scope="col">Issue</th>
                <th scope="col">What</th>
                <th scope="col">State</th>
                <th scope="col">Attempts</th>
                <th scope="col">Last error</th>
                <th scope="col">Retry</th>
              </tr>
            </thead>
            <tbody>
              {d.pushes.map((x) => (
                <tr>
                  <td>
                    <IssueName id={x.issueId} labels={d.labels} />
                  </td>
                  <td>{x.commentId ? <>comment <code>{x.commentId.slice(-12)}</code></> : "issue"}</td>
                  <td>{x.status === "failed" ? <span class="error">failed</span> : `retrying (last attempt ${relative(Date.parse(x.updatedAt) - d.now)})`}</td>
                  <td>{x.attempts}</td>
                  <td>{x.lastError ?? x.syncError}</td>
                  <td>
                    {x.status === "failed" &&
                      (x.commentId ? (
                        <ActionButton viewer={d.viewer} action={`${base}/comments/${x.commentId}/retry-push`} label="Retry push" />
                      ) : (
                        <ActionButton viewer={d.viewer} action={`${base}/issues/${x.issueId}/retry-push`} label="Retry push" />
                      ))}
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
                <th scope="col">Replay or set aside</th>
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
                  <td>{when(r.receivedAt, d.now)}</td>
                  <td>{r.error}</td>
                  <td>
                    <ActionButton viewer={d.viewer} action={`${base}/deliveries/${r.id}/replay`} label="Replay" />{" "}
                    <ActionButton viewer={d.viewer} action={`${base}/deliveries/${r.id}/acknowledge`} label="Acknowledge" />
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
                <td>{when(r.finishedAt, d.now)}</td>
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

      {d.settings && (
        <section aria-labelledby="settings-title" id="settings" data-keep="">
          <h2 id="settings-title">Settings</h2>
          {d.settings}
        </section>
      )}

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
          <label for="f-issue">Issue (#number or id)</label> <input id="f-issue" name="issue" value={d.activityFilter.issue ?? ""} />{" "}
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
                <td>{when(a.createdAt, d.now)}</td>
                <td>{a.kind}</td>
                <td>{a.source}</td>
                <td>{a.actor ?? a.deliveryId ?? (a.runId ? `run …${a.runId.slice(-8)}` : "")}</td>
                <td>{a.issueId ? <IssueName id={a.issueId} labels={d.labels} /> : ""}</td>
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
