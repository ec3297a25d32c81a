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
import { allShardDatabases, catalogDatabase, projectDatabase, projectDatabaseById } from "../db/shards";
import { listConflicts } from "../db/conflicts";
import { listDeliveries } from "../db/deliveries";
import { issueLabels, troubledPushes, type IssueLabel } from "../db/health";
import { countBySyncState, listIssues } from "../db/issues";
import { getProject } from "../db/projects";
import type { ProjectRow } from "../db/schema";
import { listRuns } from "../db/sync-runs";
import type { Env } from "../env";
import { ConfigurationError, DirectionRefused, Forbidden, NotFound, PreconditionFailed, ProjectPaused, ServiceUnavailable, StateConflict, Unprocessable, ValidationFailed, type FieldError } from "../errors";
import { resolveApiToken } from "../api-tokens";
import { acknowledgeDelivery, replayDelivery, resolveConflict, retryCommentPush, retryPush } from "../sync/repair";
import { startSync } from "../jobs/project-actions";
import { changeProject, createProject, parseConnectionInput, parseCreateInput, parseUpdateInput, previewProjectChange, setSyncEnabled, testNewConnection } from "../jobs/projects";
import { errorText, log } from "../log";
import type { DryRunReport } from "../sync/dry-run";
import { testProjectConnection } from "../sync/connection";
import { developmentOf } from "../sync/pull-requests";
import { overview, syncStatus } from "../sync/status";
import { credentialStatus, type CredentialStatus } from "../sync/credentials";
import { CHIPS, chipOf, chipReasonOf } from "../sync/status-chip";
import { APP_CSS, APP_JS } from "./assets";
import { LoginPage, OverviewPage, ProjectPage, type IssueRowLabel, type Viewer } from "./pages";
import { DryRunView, ErrorPage, formToBody, formToUpdateBody, formValues, NewProjectPage, ProjectForm, valuesOfProject, type FormValues } from "./project-form";
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

/** Dashboard forms are a few fields (the project form's value maps the largest): anything larger is refused before it is buffered. */
export const MAX_UI_FORM_BYTES = 64 * 1024;

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

/** The settings form as the project page shows it: saved values, or what was just posted with its errors or preview. */
interface SettingsState {
  values: FormValues;
  errors: FieldError[];
  preview?: DryRunReport | null;
}

async function renderProjectPage(c: Context<UiEnv>, project: ProjectRow, settings: SettingsState | null = null, statusCode: 200 | 400 | 409 | 422 = 200) {
  const db = projectDatabase(c.env, project);
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
  const labels = await withPullRequests(
    db,
    project.id,
    await issueLabels(db, project.id, [
      ...conflicts.map((x) => x.issueId),
      ...pushes.map((x) => x.issueId),
      ...activity.flatMap((a) => (a.issueId ? [a.issueId] : [])),
    ]),
  );
  const pausedReason = credential?.pausedReason ?? null;
  const chip = chipOf(status, now, pausedReason);
  const form = settings ?? { values: valuesOfProject(project), errors: [] };
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
      settings={
        <>
          <ProjectForm mode="edit" action={`/ui/projects/${project.id}/settings#settings`} csrf={c.var.viewer.csrf} values={form.values} errors={form.errors} canWrite={c.var.viewer.scope === "admin"} />
          {form.preview && <DryRunView report={form.preview} />}
        </>
      }
    />,
    statusCode,
  );
}

/** The HTTP status a refused form gets: the API's for the same error. */
function refusedStatus(err: ValidationFailed | Unprocessable | StateConflict): 400 | 409 | 422 {
  return err instanceof ValidationFailed ? 400 : err instanceof Unprocessable ? 422 : 409;
}

/** The field errors of a refused form (a state conflict is about the whole project). */
function refusedErrors(err: ValidationFailed | Unprocessable | StateConflict): FieldError[] {
  return err instanceof StateConflict ? [{ field: "project", message: err.message }] : err.errors;
}

uiRouter.get("/projects/new", (c) => c.html(<NewProjectPage viewer={c.var.viewer} errors={[]} />));

// A reload of a refused form's page (its URL is the form's action) goes back to the form.
uiRouter.get("/projects", (c) => c.redirect("/ui/projects/new", 303));

/** New project: tested against the tracker before it is saved, and its first import starts at once. */
uiRouter.post("/projects", async (c) => {
  const body = await c.req.parseBody();
  const values = formValues(body);
  try {
    const raw = formToBody(values);
    if (body.intent === "test") {
      const result = await testNewConnection(c.env, parseConnectionInput(raw));
      const connection = result.ok
        ? { ok: true, text: `Connection works: the token reads ${result.repository.fullName}. Type the token again and create the project.` }
        : { ok: false, text: `Connection fails: ${result.problem}.` };
      return c.html(<NewProjectPage viewer={c.var.viewer} values={values} errors={result.ok || !result.field ? [] : [{ field: result.field, message: result.problem }]} connection={connection} />, 200);
    }
    const created = await createProject(c.env, parseCreateInput(raw), { source: "api", actor: c.var.session.name }, { testConnection: true, startImport: true });
    const notice = [
      `Project created${created.project.installationId === null ? "; the token reads the repository" : ""}.`,
      created.importRunId ? `The first import started (run ${created.importRunId}).` : "Sync is paused: resume it to start the first import.",
      `Register the webhook at ${new URL(c.req.url).origin}${created.project.installationId !== null ? "/webhooks/github-app" : `/webhooks/${created.project.provider}/${created.project.id}`} with the webhook secret.`,
      ...created.warnings.map((w) => `Note: ${w.field} ${w.message}.`),
    ].join(" ");
    const signature = await noticeSignature(c.env, c.var.session, notice);
    return c.redirect(`/ui/projects/${created.project.id}?notice=${encodeURIComponent(notice)}&ns=${signature}`, 303);
  } catch (err) {
    if (!(err instanceof ValidationFailed || err instanceof Unprocessable || err instanceof StateConflict)) throw err;
    return c.html(<NewProjectPage viewer={c.var.viewer} values={values} errors={refusedErrors(err)} />, refusedStatus(err));
  }
});

uiRouter.get("/projects/:projectId", async (c) => {
  const project = await loadProject(await projectDatabaseById(c.env, c.req.param("projectId")), c.req.param("projectId"));
  return renderProjectPage(c, project);
});

// The page a Preview answers has the form's URL: its refresh (and a reload) read the project page.
uiRouter.get("/projects/:projectId/settings", (c) => c.redirect(`/ui/projects/${encodeURIComponent(c.req.param("projectId"))}`, 303));

/** The settings form: Preview (the dry run of `PATCH ?dryRun=true`) or Save (the PATCH itself). */
uiRouter.post("/projects/:projectId/settings", async (c) => {
  const db = await projectDatabaseById(c.env, c.req.param("projectId"));
  const project = await loadProject(db, c.req.param("projectId"));
  const body = await c.req.parseBody();
  const values = formValues(body);
  try {
    const input = parseUpdateInput(formToUpdateBody(values, project));
    if (body.intent === "preview") {
      const preview = await previewProjectChange(c.env, db, project, input);
      return renderProjectPage(c, project, { values, errors: [], preview });
    }
    const { project: saved, warnings } = await changeProject(c.env, db, project, input, { source: "api", actor: c.var.session.name }, { testConnection: true });
    const notice = ["Settings saved.", ...warnings.map((w) => `Note: ${w.field} ${w.message}.`)].join(" ");
    const signature = await noticeSignature(c.env, c.var.session, notice);
    return c.redirect(`/ui/projects/${saved.id}?notice=${encodeURIComponent(notice)}&ns=${signature}`, 303);
  } catch (err) {
    if (!(err instanceof ValidationFailed || err instanceof Unprocessable || err instanceof StateConflict)) throw err;
    return renderProjectPage(c, project, { values, errors: refusedErrors(err) }, refusedStatus(err));
  }
});

/** The issues' pull requests (number, state, link) beside their names: one read for all rows. */
async function withPullRequests(db: Database, projectId: string, labels: Map<string, IssueLabel>): Promise<Map<string, IssueRowLabel>> {
  const development = await developmentOf(db, projectId, [...labels.values()].map((l) => ({ id: l.id, externalNumber: l.number })));
  return new Map(
    [...labels].map(([id, label]) => [id, { ...label, pullRequests: (development.get(id)?.pullRequests ?? []).map(({ number, url, title, state }) => ({ number, url, title, state })) }]),
  );
}

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
    const known =
      err instanceof StateConflict ||
      err instanceof DirectionRefused ||
      err instanceof NotFound ||
      err instanceof ServiceUnavailable ||
      err instanceof ValidationFailed ||
      err instanceof Unprocessable ||
      err instanceof PreconditionFailed ||
      err instanceof ProjectPaused ||
      // Across the Durable Object's RPC boundary only the error's name survives.
      (err instanceof Error && err.name === "ProjectPaused");
    if (!known) throw err;
    notice = `Not done: ${(err as Error).message}`;
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
      await setSyncEnabled(c.env, db, project, enabled, origin);
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

uiRouter.notFound((c) => c.html(<ErrorPage viewer={c.get("viewer")} status={404} title="Not found" detail={`There is no dashboard page at ${c.req.path}.`} />, 404));

/**
 * A refused request or an outage as a page that says what happened and what to do; only an
 * unexpected failure is "internal", and then the Worker log has its details.
 */
uiRouter.onError((err, c) => {
  const viewer = c.get("viewer");
  if (err instanceof NotFound) return c.html(<ErrorPage viewer={viewer} status={404} title="Not found" detail={`${err.message}: it may have been deleted. The overview lists every project.`} />, 404);
  if (err instanceof ValidationFailed || err instanceof Unprocessable) {
    return c.html(<ErrorPage viewer={viewer} status={err instanceof ValidationFailed ? 400 : 422} title="Not done" detail={`${err.message}. Go back, fix the named field and send it again.`} />, err instanceof ValidationFailed ? 400 : 422);
  }
  if (err instanceof StateConflict || err instanceof DirectionRefused || err instanceof PreconditionFailed) {
    return c.html(<ErrorPage viewer={viewer} status={409} title="Not done" detail={`${err.message}. Reload the project page to see its current state.`} />, 409);
  }
  if (err instanceof Forbidden) return c.html(<ErrorPage viewer={viewer} status={403} title="Not allowed" detail={err.message} />, 403);
  if (err instanceof ServiceUnavailable) return c.html(<ErrorPage viewer={viewer} status={503} title="Try again" detail={`${err.message}. Try again in a minute.`} />, 503);
  if (err instanceof ConfigurationError) {
    log.error("configuration error", { path: c.req.path, error: err.message });
    return c.html(<ErrorPage viewer={viewer} status={503} title="The Worker is misconfigured" detail="A secret or setting the Worker needs is missing or malformed; the Worker log names it." />, 503);
  }
  log.error("unhandled error", { method: c.req.method, path: c.req.path, error: errorText(err, Infinity) });
  return c.html(<ErrorPage viewer={viewer} status={500} title="Something failed on the server" detail="This is not something you did wrong. The Worker log has the details; try again, and report it if it keeps happening." />, 500);
});
