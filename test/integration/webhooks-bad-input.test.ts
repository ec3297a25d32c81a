/**
 * The webhook edge against malformed input, as a table: every malformed header, signature, encoding,
 * size and JSON shape gets the status of API.md's webhook table, and the store changes only as that
 * status allows. webhooks.test.ts and webhooks-trackers.test.ts already cover a zeroed or missing
 * signature, GitHub's legacy sha1 header, another secret, 6 MiB bodies, plain non-JSON, a JSON
 * array, an issues event without `issue`, and unknown or mismatched projects; this file covers the rest.
 *
 * What each status may leave behind:
 *   401 / 404 / 413  nothing at all (no delivery row, no issue, no event);
 *   400              one delivery row recorded as `failed` (so operators see it), no issue, no event;
 *   200 ignored      one delivery row recorded as `ignored`, no issue, no event;
 *   202 accepted     one delivery row, applied later (not this file's concern).
 *
 * Decisions taken here: hex digests are case-insensitive (upper-case hex is valid); leading and
 * trailing whitespace of a header value is not part of it (HTTP strips it before any code sees it),
 * anything else around or inside a signature or token is refused; the Content-Type header is not
 * trusted, the signed bytes and their JSON decide; a body that is not UTF-8 is not JSON (RFC 8259 §8.1).
 */
import { env, exports } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import type { Provider } from "../../src/providers/types";
import type { FakeTracker, FakeWebhook } from "../fakes/fake-tracker";
import { expectProblem, json, SECRET_WEBHOOK } from "../support/api";
import { projectWithTracker } from "../support/trackers";
import { countRows, postWebhook } from "./webhooks.support";

const MiB = 1024 * 1024;
const LIMIT = 5 * MiB;
const encoder = new TextEncoder();

type Outcome = "nothing" | "failed" | "ignored" | "accepted";

interface Sent {
  path?: string;
  headers: Record<string, string>;
  body: BodyInit | null;
}

interface Ctx {
  provider: Provider;
  project: { id: string; provider: string };
  fake: FakeTracker;
  /** A valid issue delivery for a seeded issue, signed as the tracker signs it. */
  hook: FakeWebhook;
  /** The hook's headers with the auth header recomputed for these bytes. */
  signFor(body: string | Uint8Array, headers?: Record<string, string>): Promise<Record<string, string>>;
}

interface Case {
  name: string;
  provider: Provider;
  status: number;
  outcome: Outcome;
  build(ctx: Ctx): Promise<Sent>;
}

const bytes = (body: string | Uint8Array) => (typeof body === "string" ? encoder.encode(body) : body);

async function hmacHex(secret: string, body: Uint8Array): Promise<string> {
  const key = await crypto.subtle.importKey("raw", encoder.encode(secret), { name: "HMAC", hash: "SHA-256" }, false, ["sign"]);
  return [...new Uint8Array(await crypto.subtle.sign("HMAC", key, body))].map((b) => b.toString(16).padStart(2, "0")).join("");
}

/** The auth header of each tracker and how its value is made from the body's HMAC. */
const AUTH: Record<Provider, { header: string; value: (hex: string) => string }> = {
  github: { header: "x-hub-signature-256", value: (hex) => `sha256=${hex}` },
  gitea: { header: "x-gitea-signature", value: (hex) => hex },
  gitlab: { header: "x-gitlab-token", value: () => SECRET_WEBHOOK },
};
const OPENED: Record<Provider, string> = { github: "opened", gitlab: "open", gitea: "opened" };
const EVENT_HEADERS: Record<Provider, string[]> = {
  github: ["x-github-event"],
  gitlab: ["x-gitlab-event"],
  gitea: ["x-gitea-event", "x-gitea-event-type", "x-gogs-event", "x-gogs-event-type", "x-github-event", "x-github-event-type"],
};

async function setup(provider: Provider): Promise<Ctx> {
  const { fake, project } = await projectWithTracker(provider, {}, { webhookSecret: SECRET_WEBHOOK });
  const issue = fake.seedIssue({ title: "Bad input target", labels: ["bug"] });
  const hook = await fake.webhook(OPENED[provider], issue.number);
  return {
    provider,
    project,
    fake,
    hook,
    async signFor(body, headers = hook.headers) {
      const { header, value } = AUTH[provider];
      // Gitea also sends GitHub-style copies; drop them so only the header under test authenticates.
      const { "x-hub-signature": _sha1, "x-hub-signature-256": _sha256, ...rest } = headers;
      const base = provider === "gitea" ? rest : headers;
      return { ...base, [header]: value(await hmacHex(SECRET_WEBHOOK, bytes(body))) };
    },
  };
}

function without(headers: Record<string, string>, ...names: string[]): Record<string, string> {
  return Object.fromEntries(Object.entries(headers).filter(([k]) => !names.includes(k)));
}

/** A valid hook whose auth header is replaced by `mutate(correct value)`. */
function authCase(provider: Provider, name: string, status: number, outcome: Outcome, mutate: (value: string) => string): Case {
  return {
    name,
    provider,
    status,
    outcome,
    async build(ctx) {
      const headers = await ctx.signFor(ctx.hook.body);
      const { header } = AUTH[provider];
      return { headers: { ...headers, [header]: mutate(headers[header]!) }, body: ctx.hook.body };
    },
  };
}

/** A body signed correctly, with the hook's headers (content type, event, delivery id). */
function bodyCase(provider: Provider, name: string, status: number, outcome: Outcome, body: (ctx: Ctx) => string | Uint8Array, headers?: (ctx: Ctx) => Record<string, string>): Case {
  return {
    name,
    provider,
    status,
    outcome,
    async build(ctx) {
      const raw = body(ctx);
      return { headers: await ctx.signFor(raw, headers ? headers(ctx) : ctx.hook.headers), body: raw };
    },
  };
}

/** The hook's payload with `edit` applied to a copy. */
function reshaped(edit: (payload: any) => void): (ctx: Ctx) => string {
  return (ctx) => {
    const payload = structuredClone(ctx.hook.payload) as any;
    edit(payload);
    return JSON.stringify(payload);
  };
}

const signatureCases: Case[] = [
  ...(["github", "gitea"] as const).flatMap((p): Case[] => [
    authCase(p, "an empty signature header", 401, "nothing", () => ""),
    authCase(p, "a signature in upper-case hex (hex is case-insensitive)", 202, "accepted", (v) => v.replace(/[0-9a-f]{64}$/, (hex) => hex.toUpperCase())),
    authCase(p, "a signature with spaces around it (HTTP strips them)", 202, "accepted", (v) => `  ${v}\t`),
    authCase(p, "a signature with a space inside", 401, "nothing", (v) => `${v.slice(0, -32)} ${v.slice(-32)}`),
    authCase(p, "a signature one hex digit short", 401, "nothing", (v) => v.slice(0, -1)),
    authCase(p, "a signature with one extra hex digit", 401, "nothing", (v) => `${v}0`),
    authCase(p, "a signature with a non-hex character", 401, "nothing", (v) => `${v.slice(0, -1)}g`),
    authCase(p, "a signature with its last digit changed", 401, "nothing", (v) => `${v.slice(0, -1)}${v.endsWith("0") ? "1" : "0"}`),
    authCase(p, "the signature sent twice (a repeated header becomes a list)", 401, "nothing", (v) => `${v}, ${v}`),
    {
      name: "the valid signature of a different body",
      provider: p,
      status: 401,
      outcome: "nothing",
      async build(ctx) {
        const other = reshaped((payload) => (payload.issue.title = "Another title"))(ctx);
        return { headers: await ctx.signFor(other), body: ctx.hook.body };
      },
    },
    {
      name: "the body with a trailing newline the signature does not cover",
      provider: p,
      status: 401,
      outcome: "nothing",
      async build(ctx) {
        return { headers: await ctx.signFor(ctx.hook.body), body: `${ctx.hook.body}\n` };
      },
    },
  ]),
  authCase("github", "a sha256 signature without the sha256= prefix", 401, "nothing", (v) => v.slice("sha256=".length)),
  authCase("github", "an empty sha256= signature", 401, "nothing", () => "sha256="),
  authCase("gitea", "a Gitea signature with a sha256= prefix (Gitea sends bare hex)", 401, "nothing", (v) => `sha256=${v}`),
  {
    name: "only the GitHub-compatible X-Hub-Signature-256 copy, no X-Gitea-Signature",
    provider: "gitea",
    status: 401,
    outcome: "nothing",
    async build(ctx) {
      const headers = await ctx.signFor(ctx.hook.body);
      return { headers: { ...without(headers, "x-gitea-signature"), "x-hub-signature-256": `sha256=${headers["x-gitea-signature"]}` }, body: ctx.hook.body };
    },
  },
  authCase("gitlab", "a GitLab token in another letter case", 401, "nothing", (v) => v.toUpperCase()),
  authCase("gitlab", "a GitLab token with a trailing space (HTTP strips it)", 202, "accepted", (v) => `${v} `),
  authCase("gitlab", "a GitLab token with a space inside", 401, "nothing", (v) => `${v.slice(0, 5)} ${v.slice(5)}`),
  authCase("gitlab", "a GitLab token with one character missing", 401, "nothing", (v) => v.slice(0, -1)),
  authCase("gitlab", "a GitLab token with one character added", 401, "nothing", (v) => `${v}x`),
  authCase("gitlab", "only the first 8 characters of the GitLab token", 401, "nothing", (v) => v.slice(0, 8)),
  authCase("gitlab", "an empty GitLab token", 401, "nothing", () => ""),
  authCase("gitlab", "the GitLab token sent twice", 401, "nothing", (v) => `${v}, ${v}`),
  authCase("gitlab", "the HMAC of the body instead of the token", 401, "nothing", () => "0".repeat(64)),
];

const notUtf8 = new Uint8Array([0xff, 0xfe, 0x7b, 0x7d]);
/** The hook's JSON with one byte inside the title replaced by 0xff (invalid in UTF-8). */
const invalidByteInTitle = (ctx: Ctx) => {
  const raw = encoder.encode(ctx.hook.body);
  const at = ctx.hook.body.indexOf("Bad input target") + 3;
  raw[at] = 0xff;
  return raw;
};

const ISSUE_NUMBER: Record<Provider, (payload: any) => any> = {
  github: (p) => p.issue,
  gitea: (p) => p.issue,
  gitlab: (p) => p.object_attributes,
};
const NUMBER_KEY: Record<Provider, string> = { github: "number", gitea: "number", gitlab: "iid" };
/** GitLab disables hooks that get 4xx answers: a delivery it cannot use is recorded failed and answered 200 (issue 11). */
const FAILED_STATUS: Record<Provider, number> = { github: 400, gitea: 400, gitlab: 200 };

const bodyCases: Case[] = (["github", "gitlab", "gitea"] as const).flatMap((p): Case[] => [
  bodyCase(p, "an empty body", FAILED_STATUS[p], "failed", () => ""),
  bodyCase(p, "bytes that are not UTF-8", FAILED_STATUS[p], "failed", () => notUtf8),
  bodyCase(p, "an issue payload with a byte that is not UTF-8 inside the title", FAILED_STATUS[p], "failed", invalidByteInTitle),
  bodyCase(p, "JSON null", FAILED_STATUS[p], "failed", () => "null"),
  bodyCase(p, "a JSON string", FAILED_STATUS[p], "failed", () => '"an issue"'),
  bodyCase(p, "a JSON number", FAILED_STATUS[p], "failed", () => "42"),
  bodyCase(p, "JSON true", FAILED_STATUS[p], "failed", () => "true"),
  bodyCase(p, "an empty JSON array", FAILED_STATUS[p], "failed", () => "[]"),
  bodyCase(p, "truncated JSON", FAILED_STATUS[p], "failed", (ctx) => ctx.hook.body.slice(0, 40)),
  bodyCase(p, "an issue whose number is a string", FAILED_STATUS[p], "failed", reshaped((payload) => (ISSUE_NUMBER[p](payload)[NUMBER_KEY[p]] = "1"))),
  bodyCase(p, "an issue without a title", FAILED_STATUS[p], "failed", reshaped((payload) => delete ISSUE_NUMBER[p](payload).title)),
  bodyCase(p, "an issue that is null", FAILED_STATUS[p], "failed", reshaped((payload) => (p === "gitlab" ? (payload.object_attributes = null) : (payload.issue = null)))),
  bodyCase(p, "a text/plain content type on a JSON body (the bytes decide)", 202, "accepted", (ctx) => ctx.hook.body, (ctx) => ({ ...ctx.hook.headers, "content-type": "text/plain" })),
  bodyCase(p, "no content type on a JSON body", 202, "accepted", (ctx) => ctx.hook.body, (ctx) => without(ctx.hook.headers, "content-type")),
  bodyCase(p, "a form content type on a raw JSON body", FAILED_STATUS[p], "failed", (ctx) => ctx.hook.body, (ctx) => ({ ...ctx.hook.headers, "content-type": "application/x-www-form-urlencoded" })),
  bodyCase(p, "a JSON content type on a form-encoded body", FAILED_STATUS[p], "failed", (ctx) => new URLSearchParams({ payload: ctx.hook.body }).toString()),
]);

const eventHeaderCases: Case[] = [
  bodyCase("github", "no X-GitHub-Event header (nothing to act on)", 200, "ignored", (ctx) => ctx.hook.body, (ctx) => without(ctx.hook.headers, ...EVENT_HEADERS.github)),
  bodyCase("gitea", "no Gitea event headers (nothing to act on)", 200, "ignored", (ctx) => ctx.hook.body, (ctx) => without(ctx.hook.headers, ...EVENT_HEADERS.gitea)),
  // GitLab's payload names its own kind: an issue hook without the header is still an issue hook.
  bodyCase("gitlab", "no X-Gitlab-Event header on an issue payload (object_kind says issue)", 202, "accepted", (ctx) => ctx.hook.body, (ctx) => without(ctx.hook.headers, ...EVENT_HEADERS.gitlab)),
  bodyCase("gitlab", "no X-Gitlab-Event header on a payload of an unknown kind", 200, "ignored", () => JSON.stringify({ object_kind: "deployment", status: "success" }), (ctx) => without(ctx.hook.headers, ...EVENT_HEADERS.gitlab)),
  bodyCase("github", "an event GitHub has not invented yet", 200, "ignored", (ctx) => ctx.hook.body, (ctx) => ({ ...ctx.hook.headers, "x-github-event": "issues_v2" })),
];

const routingCases: Case[] = (["github", "gitlab", "gitea"] as const).flatMap((p): Case[] => [
  {
    name: "a valid delivery posted under another provider's path",
    provider: p,
    // Issue 17: without that provider's signature header it is refused before any storage read.
    status: 401,
    outcome: "nothing",
    async build(ctx) {
      const other = p === "github" ? "gitea" : "github";
      return { path: `/webhooks/${other}/${ctx.project.id}`, headers: await ctx.signFor(ctx.hook.body), body: ctx.hook.body };
    },
  },
  {
    name: "a valid delivery under an unknown provider",
    provider: p,
    status: 404,
    outcome: "nothing",
    async build(ctx) {
      return { path: `/webhooks/GitHub/${ctx.project.id}`, headers: await ctx.signFor(ctx.hook.body), body: ctx.hook.body };
    },
  },
  {
    name: "a valid delivery for an unknown project id",
    provider: p,
    status: 404,
    outcome: "nothing",
    async build(ctx) {
      return { path: `/webhooks/${p}/0190f0f0-0000-7000-8000-00000000beef`, headers: await ctx.signFor(ctx.hook.body), body: ctx.hook.body };
    },
  },
]);

interface Counts {
  deliveries: number;
  failed: number;
  ignored: number;
  issues: number;
  events: number;
}

async function counts(projectId: string): Promise<Counts> {
  const byStatus = async (status: string) =>
    (await env.DB.prepare("select count(*) as n from webhook_deliveries where project_id = ? and status = ?").bind(projectId, status).first<{ n: number }>())!.n;
  return {
    deliveries: await countRows("webhook_deliveries", projectId),
    failed: await byStatus("failed"),
    ignored: await byStatus("ignored"),
    issues: await countRows("issues", projectId),
    events: await countRows("events", projectId),
  };
}

/** Sends, checks the status and the answer's shape, and checks what the store kept. */
async function expectOutcome(ctx: Ctx, sent: Sent, status: number, outcome: Outcome): Promise<void> {
  const before = await counts(ctx.project.id);
  const res = await postWebhook(sent.path ?? `/webhooks/${ctx.provider}/${ctx.project.id}`, { headers: sent.headers, body: sent.body });
  if (status >= 400) await expectProblem(res, status);
  else {
    expect(res.status).toBe(status);
    expect(await json(res)).toMatchObject({ status: outcome });
  }
  const after = await counts(ctx.project.id);
  const expected: Counts = { ...before };
  if (outcome !== "nothing") expected.deliveries++;
  if (outcome === "failed") expected.failed++;
  if (outcome === "ignored") expected.ignored++;
  // Accepted deliveries are applied asynchronously and may change issues: only the row is certain.
  if (outcome === "accepted") expect(after.deliveries).toBe(expected.deliveries);
  else expect(after).toEqual(expected);
}

describe.each([
  ["signatures and tokens", signatureCases],
  ["bodies: encoding, JSON shape, content type", bodyCases],
  ["event headers", eventHeaderCases],
  ["routing", routingCases],
] as const)("webhook edge, %s", (_group, cases) => {
  it.each(cases.map((c) => [`${c.provider}: ${c.name} answers ${c.status}${c.outcome === "nothing" ? " and stores nothing" : ` (${c.outcome})`}`, c] as const))(
    "%s",
    async (_name, c) => {
      const ctx = await setup(c.provider);
      await expectOutcome(ctx, await c.build(ctx), c.status, c.outcome);
    },
  );
});

/** A JSON ping padded with spaces to exactly `size` bytes (still valid JSON). */
function pingOfSize(size: number): Uint8Array {
  const head = encoder.encode('{"zen":"Keep it logically awesome.","hook_id":1,"padding":"');
  const tail = encoder.encode('"}');
  const out = new Uint8Array(size).fill(0x20);
  out.set(head, 0);
  out.set(tail, size - tail.byteLength);
  return out;
}

function streamOf(body: Uint8Array): ReadableStream<Uint8Array> {
  let offset = 0;
  return new ReadableStream<Uint8Array>({
    pull(controller) {
      if (offset >= body.byteLength) return controller.close();
      controller.enqueue(body.slice(offset, offset + 256 * 1024));
      offset += 256 * 1024;
    },
  });
}

describe("webhook edge, the 5 MiB limit at the byte", () => {
  it.each([
    ["exactly 5 MiB with Content-Length is within the limit (200 ignored ping)", LIMIT, false, 200, "ignored"],
    ["exactly 5 MiB streamed without Content-Length is within the limit", LIMIT, true, 200, "ignored"],
    ["5 MiB + 1 byte with Content-Length answers 413 and stores nothing", LIMIT + 1, false, 413, "nothing"],
    ["5 MiB + 1 byte streamed without Content-Length answers 413 and stores nothing", LIMIT + 1, true, 413, "nothing"],
  ] as const)("github: %s", async (_name, size, streamed, status, outcome) => {
    const ctx = await setup("github");
    const body = pingOfSize(size);
    const headers = await ctx.signFor(body, { ...ctx.hook.headers, "x-github-event": "ping", "x-github-delivery": crypto.randomUUID() });
    await expectOutcome(ctx, { headers, body: streamed ? streamOf(body) : body }, status, outcome);
  });
});

describe("webhook edge, retries of refused or ignored deliveries never answer 4xx twice to GitLab", () => {
  it("a GitLab delivery recorded failed (answered 200) and retried with the same Idempotency-Key answers 200 duplicate", async () => {
    const ctx = await setup("gitlab");
    const headers = await ctx.signFor("not json");
    await expectOutcome(ctx, { headers, body: "not json" }, 200, "failed");
    const retry = await postWebhook(`/webhooks/gitlab/${ctx.project.id}`, { headers: { ...headers, "x-gitlab-webhook-uuid": crypto.randomUUID() }, body: "not json" });
    expect(retry.status).toBe(200);
    expect(await json(retry)).toEqual({ status: "duplicate" });
    expect(await counts(ctx.project.id)).toMatchObject({ deliveries: 1, failed: 1, issues: 0, events: 0 });
  });

  it("a GitLab delivery without Idempotency-Key or event UUID is deduplicated by its body: the same bytes again answer 200 duplicate", async () => {
    const ctx = await setup("gitlab");
    const headers = without(await ctx.signFor(ctx.hook.body), "idempotency-key", "x-gitlab-event-uuid");
    await expectOutcome(ctx, { headers, body: ctx.hook.body }, 202, "accepted");
    const again = await postWebhook(`/webhooks/gitlab/${ctx.project.id}`, { headers, body: ctx.hook.body });
    expect(again.status).toBe(200);
    expect(await json(again)).toEqual({ status: "duplicate" });
    expect(await countRows("webhook_deliveries", ctx.project.id)).toBe(1);
  });

  it("an ignored GitLab event retried answers 200 duplicate, never 4xx", async () => {
    const ctx = await setup("gitlab");
    const body = JSON.stringify({ object_kind: "deployment", status: "success" });
    const headers = await ctx.signFor(body, { ...ctx.hook.headers, "x-gitlab-event": "Deployment Hook" });
    await expectOutcome(ctx, { headers, body }, 200, "ignored");
    const again = await postWebhook(`/webhooks/gitlab/${ctx.project.id}`, { headers, body });
    expect(again.status).toBe(200);
    expect(await json(again)).toEqual({ status: "duplicate" });
  });
});

describe("webhook edge, other methods", () => {
  it.each(["GET", "PUT", "DELETE"])("%s on a webhook URL is refused with a 4xx problem, never a 5xx, and stores nothing", async (method) => {
    const ctx = await setup("github");
    const res = await exports.default.fetch(new Request(`http://sync.test/webhooks/github/${ctx.project.id}`, { method, headers: ctx.hook.headers, body: method === "GET" ? null : ctx.hook.body }));
    expect(res.status).toBeGreaterThanOrEqual(400);
    expect(res.status).toBeLessThan(500);
    expect(await counts(ctx.project.id)).toMatchObject({ deliveries: 0, issues: 0, events: 0 });
  });
});
