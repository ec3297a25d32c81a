import examples from "@octokit/webhooks-examples";
import { env } from "cloudflare:workers";
import { FakeGitHubApp } from "../fakes/fake-github-app";
import type { FakeTracker } from "../fakes/fake-tracker";
import { api, createProject, json } from "./api";
import { fakeTracker } from "./trackers";

type Payload = Record<string, any>;

export const APP_ID = Number(env.GITHUB_APP_ID);
export const APP_WEBHOOK_SECRET = env.GITHUB_APP_WEBHOOK_SECRET!;
/** The App's one API base (GITHUB_APP_API_BASE_URL in vitest.config.ts): every App project uses it. */
export const APP_BASE = env.GITHUB_APP_API_BASE_URL!;
let nextInstallation = 2_000_000 + Math.floor(Math.random() * 1_000_000);

export function newInstallationId(): number {
  return nextInstallation++;
}

async function appPublicKey(): Promise<CryptoKey> {
  const der = Uint8Array.from(atob(env.TEST_APP_PUBLIC_KEY.replace(/-----[^-]+-----|\s/g, "")), (c) => c.charCodeAt(0));
  return crypto.subtle.importKey("spki", der, { name: "RSASSA-PKCS1-v1_5", hash: "SHA-256" }, true, ["verify"]);
}

/** A fake GitHub repository under the App's API base, with the test App installed on it. */
export async function installedApp(fakeOptions: { perPage?: number } = {}) {
  const fake = fakeTracker("github", { ...fakeOptions, baseUrl: APP_BASE, repository: `acme/repo-${crypto.randomUUID().slice(0, 8)}` });
  fake.store.repositoryId = 10_000_000 + Math.floor(Math.random() * 10_000_000);
  const installationId = newInstallationId();
  const app = new FakeGitHubApp({ appId: APP_ID, slug: "syndarix-sync", publicKey: await appPublicKey(), apiBaseUrl: APP_BASE });
  app.addInstallation({ id: installationId, account: { login: "acme", id: 9 }, repositories: [{ id: fake.store.repositoryId, fullName: fake.store.repository }] });
  fake.useApp(app, installationId);
  return { fake, app, installationId };
}

export async function appProject(fake: FakeTracker, installationId: number, overrides: Record<string, unknown> = {}) {
  return createProject({
    provider: "github",
    apiBaseUrl: APP_BASE,
    repository: fake.store.repository,
    token: undefined,
    webhookSecret: undefined,
    installationId,
    syncDirection: "inbound",
    ...overrides,
  });
}

export function postAppWebhook(delivery: { rawBody: Uint8Array; headers: Record<string, string> }): Promise<Response> {
  return api("/webhooks/github-app", { method: "POST", rawBody: delivery.rawBody, headers: delivery.headers, token: null });
}

/** An `installation` / `installation_repositories` example from @octokit/webhooks-examples, for our installation. */
export function exampleOf(event: string, action: string, installationId: number, patch: (p: Payload) => void = () => {}): Payload {
  const found = (examples.find((d) => d.name === event)?.examples ?? []).find((e: Payload) => e.action === action) as Payload | undefined;
  if (!found) throw new Error(`no ${event}.${action} example`);
  const payload = structuredClone(found);
  payload.installation.id = installationId;
  patch(payload);
  return payload;
}

export const projectStatus = async (projectId: string) => json(await api(`/api/v1/projects/${projectId}/status`));

/** The same signed bytes under other headers, as anyone who captured a delivery can send them. */
export function resent(delivery: { rawBody: Uint8Array; headers: Record<string, string> }, headers: Record<string, string>) {
  return { rawBody: delivery.rawBody, headers: { ...delivery.headers, ...headers } };
}
