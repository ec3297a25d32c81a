import { exports } from "cloudflare:workers";

export const API_TOKEN = "test-api-token";
const ORIGIN = "http://sync.test";

/** Calls the Worker as an internal service would, with the bearer token unless told otherwise. */
export async function api(
  path: string,
  init: { method?: string; body?: unknown; rawBody?: BodyInit; token?: string | null; headers?: Record<string, string> } = {},
): Promise<Response> {
  const headers: Record<string, string> = { ...init.headers };
  if (init.token !== null) headers.authorization = `Bearer ${init.token ?? API_TOKEN}`;
  let body: BodyInit | undefined = init.rawBody;
  if (init.body !== undefined) {
    body = JSON.stringify(init.body);
    headers["content-type"] ??= "application/json";
  } else if (init.rawBody !== undefined) {
    headers["content-type"] ??= "application/json";
  }
  return exports.default.fetch(new Request(`${ORIGIN}${path}`, { method: init.method ?? "GET", headers, body }));
}

export async function json<T = any>(res: Response): Promise<T> {
  return (await res.json()) as T;
}

export const SECRET_TOKEN = "ghp_TESTTOKEN_never_in_responses_0123456789";
export const SECRET_WEBHOOK = "whsec_TESTSECRET_never_in_responses_987";

export function projectBody(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    name: "Hello World",
    provider: "github",
    repository: "octocat/hello-world",
    token: SECRET_TOKEN,
    webhookSecret: SECRET_WEBHOOK,
    syncDirection: "bidirectional",
    ...overrides,
  };
}

export async function createProject(overrides: Record<string, unknown> = {}): Promise<any> {
  const res = await api("/api/v1/projects", { method: "POST", body: projectBody(overrides) });
  if (res.status !== 201) throw new Error(`project create failed: ${res.status} ${await res.text()}`);
  return res.json();
}

export async function createIssue(projectId: string, body: Record<string, unknown>): Promise<any> {
  const res = await api(`/api/v1/projects/${projectId}/issues`, { method: "POST", body });
  if (res.status !== 201) throw new Error(`issue create failed: ${res.status} ${await res.text()}`);
  return res.json();
}

/** Asserts a problem+json answer and returns it. */
export async function expectProblem(res: Response, status: number): Promise<{ status: number; detail: string; errors?: { field: string; message: string }[] }> {
  const text = await res.text();
  if (res.status !== status) throw new Error(`expected ${status}, got ${res.status}: ${text}`);
  if (!res.headers.get("content-type")?.startsWith("application/problem+json")) throw new Error(`not problem+json: ${res.headers.get("content-type")}`);
  const body = JSON.parse(text);
  if (body.status !== status || typeof body.title !== "string" || typeof body.type !== "string") throw new Error(`malformed problem: ${text}`);
  return body;
}
