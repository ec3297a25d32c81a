#!/usr/bin/env node
// One-command demo (`npm run demo`): a fake GitHub with sample issues and the Worker on
// `wrangler dev` (fresh temp state), then a full sync, a local edit pushed to the tracker, a signed
// webhook for a tracker-side change, and the project's /status — each step explained as it happens.
// Everything runs on 127.0.0.1 and is stopped at the end; a failed step exits non-zero.
import { createServer } from "node:http";
import { performance } from "node:perf_hooks";
import { FakeTracker } from "../test/fakes/fake-tracker.ts";
import { freePort, main, startWorker, waitFor } from "../bench/lib.mjs";

const SAMPLE_ISSUES = 40;
/** `npm run demo -- --keep`: leave the Worker and the fake tracker running to look at the dashboard. */
const KEEP = process.argv.includes("--keep");
const started = performance.now();
let stepNo = 0;

function step(title) {
  stepNo++;
  console.log(`\n${stepNo}. ${title}`);
}
function say(text) {
  console.log(`   ${text}`);
}
function ok(text) {
  console.log(`   ✓ ${text}`);
}

/** Serves an in-process FakeTracker over HTTP on 127.0.0.1, so this script can also play the tracker's side. */
async function serveFake(fake, port) {
  const server = createServer(async (req, res) => {
    try {
      const chunks = [];
      for await (const chunk of req) chunks.push(chunk);
      const body = Buffer.concat(chunks);
      const headers = new Headers();
      for (const [name, value] of Object.entries(req.headers)) if (typeof value === "string") headers.set(name, value);
      const request = new Request(`http://127.0.0.1:${port}${req.url}`, {
        method: req.method,
        headers,
        body: req.method === "GET" || req.method === "HEAD" || body.length === 0 ? undefined : body,
      });
      const answer = await fake.handle(request);
      const out = {};
      answer.headers.forEach((value, name) => {
        out[name] = value;
      });
      res.writeHead(answer.status, out);
      res.end(Buffer.from(await answer.arrayBuffer()));
    } catch (err) {
      res.writeHead(500, { "content-type": "application/json" });
      res.end(JSON.stringify({ message: err instanceof Error ? err.message : "fake error" }));
    }
  });
  await new Promise((resolve) => server.listen(port, "127.0.0.1", resolve));
  return server;
}

await main(async () => {
  console.log("syndarix-sync demo: a fake GitHub and the Worker, both on this machine (127.0.0.1 only).");

  step("Start a fake GitHub with sample issues");
  const fakePort = await freePort();
  const origin = `http://127.0.0.1:${fakePort}`;
  const fake = new FakeTracker("github", { baseUrl: origin, webhookSecret: "demo-webhook-secret-0001" });
  fake.seed(SAMPLE_ISSUES, { pullRequestEvery: 7 });
  const fakeServer = await serveFake(fake, fakePort);
  const trackerIssues = fake.store.visible().filter((i) => i.kind === "issue");
  ok(`fake GitHub at ${origin}: repository acme/widgets with ${trackerIssues.length} issues and ${SAMPLE_ISSUES - trackerIssues.length} pull requests`);

  try {
    step("Start the Worker with wrangler dev (fresh temporary state, D1 migrations applied)");
    const worker = await startWorker({ label: "demo" });
    ok(`Worker answering at ${worker.origin} (GET /health is ok)`);
    const { api } = worker;

    step("Register a project: GitHub, bidirectional sync");
    const project = await api.createProject({
      name: "Demo widgets",
      apiBaseUrl: origin,
      repository: "acme/widgets",
      token: "test-token",
      webhookSecret: "demo-webhook-secret-0001",
      syncDirection: "bidirectional",
    });
    ok(`project ${project.id} created; the tracker token and webhook secret are stored encrypted and never returned`);
    say(`webhook URL to register in GitHub: ${project.webhookUrl}`);

    step("Run a full sync and wait for it");
    const { runId } = await api.startSync(project.id, "full");
    say(`sync run ${runId} queued; the project's Durable Object reads the tracker page by page`);
    const run = await api.waitRun(runId, { timeoutMs: 60_000 });
    if (run.status !== "succeeded") throw new Error(`the full sync failed: ${run.error}`);
    const s = run.stats;
    ok(`full sync ${run.status}: ${s.created} issues imported from ${s.fetched} listed (pull requests are skipped), ${s.requests} tracker request(s)`);
    const listed = await api.get(`/api/v1/projects/${project.id}/issues?limit=100`);
    if (listed.items.length !== trackerIssues.length) throw new Error(`expected ${trackerIssues.length} local issues, found ${listed.items.length}`);
    ok(`the local store now has all ${listed.items.length} issues`);

    step("Edit an issue locally through the API: the change is pushed to GitHub");
    const local = listed.items.find((i) => i.external?.number === trackerIssues[0].number);
    if (!local) throw new Error("the first tracker issue is missing locally");
    const newTitle = "Checkout fails on Safari (edited in Syndarix)";
    say(`PATCH issue #${local.external.number} title: "${local.title}" → "${newTitle}"`);
    const patched = await api.patch(`/api/v1/projects/${project.id}/issues/${local.id}`, { title: newTitle });
    say(`answered with syncState "${patched.syncState}": an outbox row is written and a push job queued`);
    await waitFor("the push to reach the fake GitHub", () => fake.issue(local.external.number)?.title === newTitle, { timeoutMs: 30_000 });
    ok(`the fake GitHub now has issue #${local.external.number} titled "${fake.issue(local.external.number).title}"`);
    const afterPush = await waitFor(
      "the local issue to be synced",
      async () => {
        const row = await api.get(`/api/v1/projects/${project.id}/issues/${local.id}`);
        return row.syncState === "synced" ? row : null;
      },
      { timeoutMs: 30_000 },
    );
    ok(`the local issue is back to syncState "${afterPush.syncState}"`);

    step("Change an issue on GitHub and deliver the signed webhook GitHub would send");
    const target = trackerIssues[1];
    const oldTitle = target.title;
    fake.edit(target.number, { title: "Search returns stale results", labels: ["bug", "search"] });
    const delivery = await fake.webhook("edited", target.number, { changes: { title: { from: oldTitle } } });
    say(`GitHub side: #${target.number} retitled "${oldTitle}" → "Search returns stale results", labels bug + search`);
    say(`POST ${project.webhookUrl} with X-GitHub-Event: issues, X-GitHub-Delivery ${delivery.headers["x-github-delivery"]}, X-Hub-Signature-256 (HMAC of the raw body)`);
    const res = await fetch(`${worker.origin}${project.webhookUrl}`, { method: "POST", headers: delivery.headers, body: delivery.body, signal: AbortSignal.timeout(30_000) });
    const answer = await res.text();
    if (res.status !== 202) throw new Error(`the webhook answered ${res.status}: ${answer.slice(0, 300)}`);
    ok(`webhook accepted (202 ${answer}): stored, then applied by the project's Durable Object`);
    const updated = await waitFor(
      "the webhook to be applied",
      async () => {
        const page = await api.get(`/api/v1/projects/${project.id}/issues?externalNumber=${target.number}`);
        const row = page.items[0];
        return row && row.title === "Search returns stale results" ? row : null;
      },
      { timeoutMs: 30_000 },
    );
    ok(`local issue #${target.number} is now "${updated.title}" with labels [${updated.labels.join(", ")}] (syncState "${updated.syncState}")`);
    const forged = await fetch(`${worker.origin}${project.webhookUrl}`, {
      method: "POST",
      headers: { ...delivery.headers, "x-github-delivery": crypto.randomUUID(), "x-hub-signature-256": `sha256=${"0".repeat(64)}` },
      body: delivery.body,
      signal: AbortSignal.timeout(30_000),
    });
    await forged.arrayBuffer();
    if (forged.status !== 401) throw new Error(`a forged signature answered ${forged.status}, expected 401`);
    const deliveries = await api.get(`/api/v1/projects/${project.id}/deliveries`);
    if (deliveries.items.length !== 1) throw new Error(`expected 1 stored delivery, found ${deliveries.items.length}`);
    ok("the same body with a wrong signature is refused (401) and nothing is stored");

    step("Ask for the project's sync status");
    const status = await api.get(`/api/v1/projects/${project.id}/status`);
    say(`GET /api/v1/projects/${project.id}/status`);
    say(`issues: ${status.issues.total} total, ${status.issues.conflict} in conflict, ${status.issues.orphaned} orphaned, ${status.issues.error} in error`);
    say(`cursor: ${status.cursor} (every tracker change before it is stored); last full sync ${status.lastFullSyncAt}`);
    say(`pending pushes: ${status.pendingPushes}, failed pushes: ${status.failedPushes}, failed webhook deliveries: ${status.failedDeliveries}, last error: ${status.lastError ?? "none"}`);
    if (status.pendingPushes !== 0 || status.failedPushes !== 0 || status.failedDeliveries !== 0) throw new Error("the status shows unfinished or failed work");
    ok("nothing pending, nothing failed");

    step("Open the dashboard");
    say(`${worker.origin}/ui/  (sign in with the demo's API token: ${worker.secrets.API_TOKEN})`);
    say(`activity stream: GET ${worker.origin}/api/v1/projects/${project.id}/activity`);
    if (KEEP) {
      ok("left running (--keep): press Ctrl-C to stop the Worker and the fake tracker");
      await new Promise(() => {}); // the signal handler stops everything and exits
    }
    say("(run `npm run demo -- --keep` to leave it running)");
  } finally {
    fakeServer.closeAllConnections();
    await new Promise((resolve) => fakeServer.close(resolve));
  }

  console.log(`\nDemo finished in ${((performance.now() - started) / 1000).toFixed(1)} s; stopping the Worker and the fake tracker.`);
});
