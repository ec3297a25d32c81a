/**
 * The operator dashboard at /ui/: server-rendered pages over the same sync and db functions the
 * API routes call (every action here is also an API route). Sign-in with an API token gives a
 * signed session cookie; every form post carries a CSRF token bound to that cookie; the CSP allows
 * no inline script. Secrets are never read for rendering.
 */
import { Hono, type Context } from "hono";
import { bodyLimit } from "hono/body-limit";
import { deleteCookie, getCookie, setCookie } from "hono/cookie";
import { z } from "zod";
import { ACTIVITY_KINDS, ACTIVITY_SOURCES, latestActivity } from "../db/activity";
import type { Database } from "../db/client";
import { allShardDatabases, catalogDatabase, projectDatabaseById } from "../db/shards";
import { listConflicts } from "../db/conflicts";
import { listDeliveries } from "../db/deliveries";
import { issueLabels, troubledPushes } from "../db/health";
import { countBySyncState, listIssues } from "../db/issues";
import { getProject, updateProject } from "../db/projects";
import type { ProjectRow } from "../db/schema";
import { listRuns } from "../db/sync-runs";
import type { Env } from "../env";
import { DirectionRefused, NotFound, ServiceUnavailable, StateConflict } from "../errors";
import { resolveApiToken } from "../api-tokens";
import { nowIso } from "../ids";
import { projectUpdatedActivity } from "../sync/project-activity";
import { acknowledgeDelivery, replayDelivery, resolveConflict, retryCommentPush, retryPush } from "../sync/repair";
import { startSync } from "../jobs/project-actions";
import { testProjectConnection } from "../sync/connection";
import { overview, syncStatus } from "../sync/status";
import { credentialStatus, type CredentialStatus } from "../sync/credentials";
import { CHIPS, chipOf, chipReasonOf } from "../sync/status-chip";
import { APP_CSS, APP_JS } from "./assets";
import { LoginPage, OverviewPage, ProjectPage, type Viewer } from "./pages";
import { subscriptionsUiRouter } from "./subscriptions";
import { checkCsrf, csrfToken, endSession, noticeSignature, SESSION_COOKIE, SESSION_TTL_MS, signSession, verifiedNotice, verifySession, type Session } from "./session";

type UiEnv = { Bindings: Env; Variables: { session: Session; viewer: Viewer } };

const CSP = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

function isLocalhost(url: string): boolean {
  const host = new URL(url).hostname;
  return host === "localhost" || host === "127.0.0.1" || host === "[::1]";
}

export const uiRouter = new Hono<UiEnv>();

uiRouter.use("*", async (c, next) => {
  await next();
  c.header("Content-Security-Policy", CSP);
  c.header("X-Content-Type-Options", "nosniff");
  c.header("X-Frame-Options", "DENY");
  c.header("Referrer-Policy", "same-origin");
  if (!c.req.path.startsWith("/ui/assets/")) c.header("Cache-Control", "no-store");
});

uiRouter.get("/assets/app.js", (c) => c.body(APP_JS, 200, { "content-type": "text/javascript; charset=utf-8", "cache-control": "public, max-age=300" }));
uiRouter.get("/assets/app.css", (c) => c.body(APP_CSS, 200, { "content-type": "text/css; charset=utf-8", "cache-control": "public, max-age=300" }));

/** Every dashboard form is a few fields: anything larger is refused before it is buffered. */
export const MAX_UI_FORM_BYTES = 8 * 1024;

// Posts (sign-in included, before any session) take one content type and a small body.
uiRouter.post(
  "*",
  async (c, next) => {
    const type = c.req.header("content-type")?.split(";")[0]?.trim().toLowerCase();
    if (type !== "application/x-www-form-urlencoded") return c.text("Dashboard forms are application/x-www-form-urlencoded.", 415);
    await next();
  },
  bodyLimit({ maxSize: MAX_UI_FORM_BYTES, onError: (c) => c.text(`The form is over ${MAX_UI_FORM_BYTES} bytes.`, 413) }),
);

uiRouter.get("/login", (c) => c.html(<LoginPage />));

uiRouter.post("/login", async (c) => {
  // Cross-site posts are refused (login CSRF): the browser names the page that posted.
  const origin = c.req.header("origin");
  if (origin && origin !== new URL(c.req.url).origin) return c.html(<LoginPage error="Sign-in must come from this site." />, 403);
  const form = await c.req.parseBody();
  const presented = typeof form.token === "string" ? form.token.trim() : "";
  const token = await resolveApiToken(c.env, presented);
  if (!token) return c.html(<LoginPage error="That token is not valid." />, 401);
  setCookie(c, SESSION_COOKIE, await signSession(c.env, catalogDatabase(c.env), token, presented), {
    httpOnly: true,
    secure: !isLocalhost(c.req.url),
    sameSite: "Strict",
    path: "/ui",
    maxAge: SESSION_TTL_MS / 1000,
  });
  return c.redirect("/ui/", 303);
});

// Everything below needs a session; posts also a CSRF token (and a same-origin Origin when sent).
uiRouter.use("*", async (c, next) => {
  const cookie = getCookie(c, SESSION_COOKIE);
  const session = await verifySession(c.env, catalogDatabase(c.env), cookie);
  if (!session || !cookie) {
    if (c.req.method === "GET") return c.redirect("/ui/login", 303);
    return c.text("Sign in first.", 401);
  }
  if (c.req.method === "POST") {
    const origin = c.req.header("origin");
    if (origin && origin !== new URL(c.req.url).origin) return c.text("Cross-site form post refused.", 403);
    const form = await c.req.parseBody();
    if (!(await checkCsrf(c.env, cookie, typeof form._csrf === "string" ? form._csrf : undefined))) {
      return c.text("The form's CSRF token is missing or wrong; reload the page.", 403);
    }
    // Every session may end itself; everything else a form does needs an admin token.
    if (session.scope !== "admin" && c.req.path !== "/ui/logout") return c.text("Your token may only read.", 403);
  }
  c.set("session", session);
  c.set("viewer", { name: session.name, scope: session.scope, csrf: await csrfToken(c.env, cookie) });
  await next();
});

uiRouter.post("/logout", async (c) => {
  await endSession(catalogDatabase(c.env), c.var.session);
  deleteCookie(c, SESSION_COOKIE, { path: "/ui" });
  return c.redirect("/ui/login", 303);
});

// Event subscriptions: health, failing deliveries, redeliver / replay / enable (src/ui/subscriptions.tsx).
uiRouter.route("/subscriptions", subscriptionsUiRouter);

const OverviewParams = z.object({
  q: z.string().max(200).optional(),
  status: z.enum(CHIPS).optional(),
  sort: z.enum(["status", "name", "lag"]).default("status"),
  page: z.coerce.number().int().min(1).max(100_000).default(1),
});
export const OVERVIEW_PAGE_SIZE = 50;

uiRouter.get("/", async (c) => {
  const dbs = allShardDatabases(c.env).map((s) => s.db);
  const raw = Object.fromEntries(Object.entries(c.req.query()).filter(([, v]) => v !== ""));
  const parsed = OverviewParams.safeParse(raw);
  const query = parsed.success ? parsed.data : OverviewParams.parse({});
  const now = Date.now();
  const data = await overview(c.env, dbs, { ...query, limit: OVERVIEW_PAGE_SIZE }, now);
  return c.html(<OverviewPage viewer={c.var.viewer} data={data} query={query} now={now} />);
});

/** The project's credential status, or null when it cannot be read (e.g. a token stored for another origin). */
async function credentialOf(env: Env, db: Database, project: ProjectRow, now: number): Promise<CredentialStatus | null> {
  try {
    return await credentialStatus(env, db, project, now);
  } catch {
    return null;
  }
}

async function loadProject(db: Database, id: string): Promise<ProjectRow> {
  const project = await getProject(db, id);
  if (!project) throw new NotFound("project", id);
  return project;
}

uiRouter.get("/projects/:projectId", async (c) => {
  const db = await projectDatabaseById(c.env, c.req.param("projectId"));
  const project = await loadProject(db, c.req.param("projectId"));
  const now = Date.now();
  const kind = c.req.query("kind") || undefined;
  const source = c.req.query("source") || undefined;
  const issue = c.req.query("issue")?.trim() || c.req.query("issueId")?.trim() || undefined;
  // The filter takes what the table shows: "#12", "12" or the issue's id.
  const issueId = issue ? await issueIdOf(db, project.id, issue) : undefined;
  const [status, runs, activity, byState, conflicts, pushes, failedDeliveries, credential] = await Promise.all([
    syncStatus(db, project, now),
    listRuns(db, project.id, { limit: 30 }),
    latestActivity(db, { projectId: project.id, kinds: kind ? [kind] : undefined, source, issueId }, 50),
    countBySyncState(db, project.id),
    listConflicts(db, project.id, { open: true }, { limit: 100 }),
    troubledPushes(db, project.id, 100),
    listDeliveries(db, project.id, { status: "failed" }, { limit: 100 }),
    credentialOf(c.env, db, project, now),
  ]);
  const labels = await issueLabels(db, project.id, [
    ...conflicts.map((x) => x.issueId),
    ...pushes.map((x) => x.issueId),
    ...activity.flatMap((a) => (a.issueId ? [a.issueId] : [])),
  ]);
  const pausedReason = credential?.pausedReason ?? null;
  const chip = chipOf(status, now, pausedReason);
  return c.html(
    <ProjectPage
      viewer={c.var.viewer}
      status={status}
      chip={chip}
      chipReason={chipReasonOf(chip, status, now, pausedReason)}
      credential={credential}
      runs={runs.filter((r) => r.status !== "queued" && r.status !== "running")}
      activity={activity}
      activityFilter={{ kind, source, issue }}
      kinds={ACTIVITY_KINDS}
      sources={ACTIVITY_SOURCES}
      byState={byState}
      conflicts={conflicts}
      pushes={pushes}
      failedDeliveries={failedDeliveries}
      labels={labels}
      notice={await verifiedNotice(c.env, c.var.session, c.req.query("notice"), c.req.query("ns"))}
      now={now}
    />,
  );
});

/** An issue named as the dashboard shows it: "#12" or "12" (its tracker number), or its local id. */
async function issueIdOf(db: Database, projectId: string, text: string): Promise<string> {
  const number = /^#?(\d{1,10})$/.exec(text);
  if (number) {
    const [found] = await listIssues(db, projectId, { externalNumber: Number(number[1]) }, { limit: 1 });
    if (found) return found.id;
  }
  return text;
}

/** Runs a dashboard action and goes back to the project page with what happened (or why not). */
async function act(c: Context<UiEnv>, fn: (db: Database, project: ProjectRow, origin: { source: "api"; actor: string }) => Promise<string>) {
  const db = await projectDatabaseById(c.env, c.req.param("projectId")!);
  const project = await loadProject(db, c.req.param("projectId")!);
  let notice: string;
  try {
    notice = await fn(db, project, { source: "api", actor: c.var.session.name });
  } catch (err) {
    if (!(err instanceof StateConflict || err instanceof DirectionRefused || err instanceof NotFound || err instanceof ServiceUnavailable)) throw err;
    notice = `Not done: ${err.message}`;
  }
  const signature = await noticeSignature(c.env, c.var.session, notice);
  return c.redirect(`/ui/projects/${project.id}?notice=${encodeURIComponent(notice)}&ns=${signature}`, 303);
}

uiRouter.post("/projects/:projectId/sync", (c) =>
  act(c, async (_db, project) => {
    const form = await c.req.parseBody();
    const mode = form.mode === "full" ? "full" : "incremental";
    const { runId, joined } = await startSync(c.env, project, mode);
    return joined ? `Joined the run already going (${runId}).` : `Started a ${mode} run (${runId}).`;
  }),
);

for (const [path, enabled] of [["pause", false], ["resume", true]] as const) {
  uiRouter.post(`/projects/:projectId/${path}`, (c) =>
    act(c, async (db, project, origin) => {
      const patch = { syncEnabled: enabled };
      await updateProject(db, project.id, patch, projectUpdatedActivity(project, patch, { token: false, webhookSecret: false }, origin, nowIso()));
      return enabled ? "Sync resumed." : "Sync paused.";
    }),
  );
}

uiRouter.post("/projects/:projectId/conflicts/:conflictId/resolve", (c) =>
  act(c, async (db, project, origin) => {
    const form = await c.req.parseBody();
    const keep = form.keep === "local" ? "local" : form.keep === "tracker" ? "tracker" : null;
    if (!keep) throw new StateConflict("choose keep local or take tracker");
    const r = await resolveConflict(c.env, db, project, c.req.param("conflictId")!, keep, origin);
    const what = r.conflict.commentId !== null ? `comment ${r.conflict.commentId}` : `"${r.conflict.field}"`;
    return `Conflict on ${what} resolved: kept ${keep}${r.pushQueued ? "; the tracker is being updated" : ""}.`;
  }),
);

uiRouter.post("/projects/:projectId/issues/:issueId/retry-push", (c) =>
  act(c, async (db, project, origin) => {
    await retryPush(c.env, db, project, c.req.param("issueId")!, origin);
    return "Push queued again; if it fails again it shows here with its new error.";
  }),
);

uiRouter.post("/projects/:projectId/test-connection", (c) =>
  act(c, async (db, project) => {
    const result = await testProjectConnection(c.env, db, project);
    return result.ok ? `Connection works: the credential reads ${result.repository.fullName}.` : `Connection fails: ${result.problem}.`;
  }),
);

uiRouter.post("/projects/:projectId/comments/:commentId/retry-push", (c) =>
  act(c, async (db, project, origin) => {
    await retryCommentPush(c.env, db, project, c.req.param("commentId")!, origin);
    return "Comment push queued again; if it fails again it shows here with its new error.";
  }),
);

uiRouter.post("/projects/:projectId/deliveries/:deliveryId/replay", (c) =>
  act(c, async (db, project, origin) => {
    const row = await replayDelivery(c.env, db, project, c.req.param("deliveryId")!, origin);
    return `Delivery ${row.deliveryId} queued again.`;
  }),
);

uiRouter.post("/projects/:projectId/deliveries/:deliveryId/acknowledge", (c) =>
  act(c, async (db, project, origin) => {
    const row = await acknowledgeDelivery(db, project, c.req.param("deliveryId")!, origin);
    return `Delivery ${row.deliveryId} acknowledged: it no longer counts as failed (its error stays in the activity).`;
  }),
);

uiRouter.notFound((c) => c.text("Not found", 404));
