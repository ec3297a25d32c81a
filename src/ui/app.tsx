/**
 * The operator dashboard at /ui/: server-rendered pages over the same sync and db functions the
 * API routes call (every action here is also an API route). Sign-in with an API token gives a
 * signed session cookie; every form post carries a CSRF token bound to that cookie; the CSP allows
 * no inline script. Secrets are never read for rendering.
 */
import { Hono, type Context } from "hono";
import { deleteCookie, getCookie, setCookie } from "hono/cookie";
import { ACTIVITY_KINDS, ACTIVITY_SOURCES, lastAccessFailureAt, latestActivity } from "../db/activity";
import { database, type Database } from "../db/client";
import { listConflicts } from "../db/conflicts";
import { findDelivery, listDeliveries, resetForReplay } from "../db/deliveries";
import { countBySyncState, listIssues } from "../db/issues";
import { getProject, listProjects, updateProject } from "../db/projects";
import type { ProjectRow } from "../db/schema";
import { listRuns } from "../db/sync-runs";
import { projectSync } from "../durable/client";
import type { Env } from "../env";
import { DirectionRefused, NotFound, StateConflict } from "../errors";
import { resolveApiToken } from "../http/auth";
import { nowIso } from "../ids";
import { enqueueDeliveryApply } from "../queue/send";
import { projectUpdatedActivity } from "../sync/project-activity";
import { resolveConflict, retryPush } from "../sync/repair";
import { syncStatus } from "../sync/status";
import { credentialStatus, type CredentialStatus } from "../sync/credentials";
import { chipOf, chipReasonOf } from "../sync/status-chip";
import { APP_CSS, APP_JS } from "./assets";
import { LoginPage, OverviewPage, ProjectPage, type Viewer } from "./pages";
import { subscriptionsUiRouter } from "./subscriptions";
import { checkCsrf, csrfToken, SESSION_COOKIE, SESSION_TTL_MS, signSession, verifySession, type Session } from "./session";

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

uiRouter.get("/login", (c) => c.html(<LoginPage />));

uiRouter.post("/login", async (c) => {
  // Cross-site posts are refused (login CSRF): the browser names the page that posted.
  const origin = c.req.header("origin");
  if (origin && origin !== new URL(c.req.url).origin) return c.html(<LoginPage error="Sign-in must come from this site." />, 403);
  const form = await c.req.parseBody();
  const presented = typeof form.token === "string" ? form.token.trim() : "";
  const token = await resolveApiToken(c.env, presented);
  if (!token) return c.html(<LoginPage error="That token is not valid." />, 401);
  setCookie(c, SESSION_COOKIE, await signSession(c.env.TOKEN_ENCRYPTION_KEY, token), {
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
  const session = await verifySession(c.env.TOKEN_ENCRYPTION_KEY, cookie);
  if (!session || !cookie) {
    if (c.req.method === "GET") return c.redirect("/ui/login", 303);
    return c.text("Sign in first.", 401);
  }
  if (c.req.method === "POST") {
    const origin = c.req.header("origin");
    if (origin && origin !== new URL(c.req.url).origin) return c.text("Cross-site form post refused.", 403);
    const form = await c.req.parseBody();
    if (!(await checkCsrf(c.env.TOKEN_ENCRYPTION_KEY, cookie, typeof form._csrf === "string" ? form._csrf : undefined))) {
      return c.text("The form's CSRF token is missing or wrong; reload the page.", 403);
    }
    if (session.scope !== "admin") return c.text("Your token may only read.", 403);
  }
  c.set("session", session);
  c.set("viewer", { name: session.name, scope: session.scope, csrf: await csrfToken(c.env.TOKEN_ENCRYPTION_KEY, cookie) });
  await next();
});

uiRouter.post("/logout", (c) => {
  deleteCookie(c, SESSION_COOKIE, { path: "/ui" });
  return c.redirect("/ui/login", 303);
});

// Event subscriptions: health, failing deliveries, redeliver / replay / enable (src/ui/subscriptions.tsx).
uiRouter.route("/subscriptions", subscriptionsUiRouter);

uiRouter.get("/", async (c) => {
  const db = database(c.env.DB);
  const projects = await listProjects(db, { limit: 200 });
  const now = Date.now();
  const rows = await Promise.all(
    projects.map(async (p) => {
      const [status, accessFailure, credential] = await Promise.all([syncStatus(db, p, now), lastAccessFailureAt(db, p.id), credentialOf(c.env, db, p, now)]);
      const chip = chipOf(status, accessFailure, now, credential?.pausedReason ?? null);
      return { status, chip, chipReason: chipReasonOf(chip, status, accessFailure, credential?.pausedReason ?? null), credential };
    }),
  );
  return c.html(<OverviewPage viewer={c.var.viewer} rows={rows} />);
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
  const db = database(c.env.DB);
  const project = await loadProject(db, c.req.param("projectId"));
  const now = Date.now();
  const kind = c.req.query("kind") || undefined;
  const source = c.req.query("source") || undefined;
  const issueId = c.req.query("issueId") || undefined;
  const [status, accessFailure, runs, activity, byState, conflicts, failedPushes, failedDeliveries, credential] = await Promise.all([
    syncStatus(db, project, now),
    lastAccessFailureAt(db, project.id),
    listRuns(db, project.id, { limit: 30 }),
    latestActivity(db, { projectId: project.id, kinds: kind ? [kind] : undefined, source, issueId }, 50),
    countBySyncState(db, project.id),
    listConflicts(db, project.id, {}, { limit: 100 }),
    listIssues(db, project.id, { syncState: "error" }, { limit: 100 }),
    listDeliveries(db, project.id, { status: "failed" }, { limit: 100 }),
    credentialOf(c.env, db, project, now),
  ]);
  const chip = chipOf(status, accessFailure, now, credential?.pausedReason ?? null);
  return c.html(
    <ProjectPage
      viewer={c.var.viewer}
      status={status}
      chip={chip}
      chipReason={chipReasonOf(chip, status, accessFailure, credential?.pausedReason ?? null)}
      credential={credential}
      runs={runs.filter((r) => r.status !== "queued" && r.status !== "running")}
      activity={activity}
      activityFilter={{ kind, source, issueId }}
      kinds={ACTIVITY_KINDS}
      sources={ACTIVITY_SOURCES}
      byState={byState}
      conflicts={conflicts.filter((x) => x.resolvedAt === null)}
      failedPushes={failedPushes}
      failedDeliveries={failedDeliveries}
      notice={c.req.query("notice")}
      now={now}
    />,
  );
});

/** Runs a dashboard action and goes back to the project page with what happened (or why not). */
async function act(c: Context<UiEnv>, fn: (db: Database, project: ProjectRow, origin: { source: "api"; actor: string }) => Promise<string>) {
  const db = database(c.env.DB);
  const project = await loadProject(db, c.req.param("projectId")!);
  let notice: string;
  try {
    notice = await fn(db, project, { source: "api", actor: c.var.session.name });
  } catch (err) {
    if (!(err instanceof StateConflict || err instanceof DirectionRefused || err instanceof NotFound)) throw err;
    notice = `Not done: ${err.message}`;
  }
  return c.redirect(`/ui/projects/${project.id}?notice=${encodeURIComponent(notice)}`, 303);
}

uiRouter.post("/projects/:projectId/sync", (c) =>
  act(c, async (_db, project) => {
    const form = await c.req.parseBody();
    const mode = form.mode === "full" ? "full" : "incremental";
    if (!project.syncEnabled) throw new StateConflict("sync is paused for this project; resume it first");
    const { runId, joined } = await projectSync(c.env, project.id).requestRun(mode, "api");
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
    return "Push queued again.";
  }),
);

uiRouter.post("/projects/:projectId/deliveries/:deliveryId/replay", (c) =>
  act(c, async (db, project, origin) => {
    const row = await findDelivery(db, project.id, c.req.param("deliveryId")!);
    if (!row) throw new NotFound("delivery", c.req.param("deliveryId")!);
    await resetForReplay(db, row.id, [
      {
        projectId: project.id,
        kind: "delivery.replayed",
        origin: { ...origin, deliveryId: row.deliveryId },
        createdAt: nowIso(),
        detail: `delivery ${row.deliveryId} (${row.event}${row.action ? `/${row.action}` : ""}, was ${row.status}) queued again`,
      },
    ]);
    await enqueueDeliveryApply(c.env, project.id, row.id);
    return `Delivery ${row.deliveryId} queued again.`;
  }),
);

uiRouter.notFound((c) => c.text("Not found", 404));
