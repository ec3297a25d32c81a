import { beforeAll, describe, expect, it } from "vitest";
import {
  AppIdInvalid,
  AppPrivateKeyInvalid,
  base64Url,
  importAppPrivateKey,
  privateKeyPkcs8Der,
  signAppJwt,
  wrapPkcs1InPkcs8,
} from "../../../src/providers/github/app-jwt";
import {
  AppCredentialsRejected,
  appBotLogin,
  fetchAppSlug,
  InstallationGone,
  InstallationSuspended,
  mintInstallationToken,
  tokenNeedsRefresh,
  type MintInstallationTokenInput,
} from "../../../src/providers/github/app-installation-token";
import { RateLimitedError, TrackerError } from "../../../src/providers/types";
import { FakeGitHubApp } from "../../fakes/fake-github-app.ts";
import appSchemas from "../../fixtures/github/openapi-app-schemas.json";
import {
  validateBasicError,
  validateCreateInstallationAccessTokenRequest,
  validateInstallationToken,
  validateIntegration,
  type Validator,
} from "../../fixtures/github/openapi-app-validators.js";
import { generateAppKeys, pkcs1FromPkcs8, toPem, type TestAppKeys } from "../../support/app-keys";

const API = "https://api.github.com";
const APP_ID = 31337;
const INSTALLATION = 4242;
const MINUTE = 60_000;

let keys: TestAppKeys;
let otherKeys: TestAppKeys;

beforeAll(async () => {
  [keys, otherKeys] = await Promise.all([generateAppKeys(), generateAppKeys()]);
});

function expectValid(validate: Validator, data: unknown): void {
  const ok = validate(data);
  expect(ok, JSON.stringify(validate.errors?.slice(0, 3))).toBe(true);
}

function decodePart(part: string): Record<string, unknown> {
  const b64 = part.replace(/-/g, "+").replace(/_/g, "/");
  return JSON.parse(atob(b64.padEnd(Math.ceil(b64.length / 4) * 4, "="))) as Record<string, unknown>;
}

function bytesOf(b64url: string): Uint8Array<ArrayBuffer> {
  const b64 = b64url.replace(/-/g, "+").replace(/_/g, "/");
  const binary = atob(b64.padEnd(Math.ceil(b64.length / 4) * 4, "="));
  return Uint8Array.from(binary, (c) => c.charCodeAt(0));
}

async function verifies(jwt: string, publicKey: CryptoKey): Promise<boolean> {
  const [header = "", claims = "", signature = ""] = jwt.split(".");
  const data = new TextEncoder().encode(`${header}.${claims}`);
  return crypto.subtle.verify("RSASSA-PKCS1-v1_5", publicKey, bytesOf(signature), data);
}

/** Signs arbitrary header and claims with a PEM key: JWTs our signer would never produce. */
async function signRaw(pem: string, claims: Record<string, unknown>, header: Record<string, unknown> = { alg: "RS256", typ: "JWT" }): Promise<string> {
  const key = await importAppPrivateKey(pem);
  const encode = (value: unknown) => base64Url(new TextEncoder().encode(JSON.stringify(value)));
  const input = `${encode(header)}.${encode(claims)}`;
  const signature = await crypto.subtle.sign("RSASSA-PKCS1-v1_5", key, new TextEncoder().encode(input));
  return `${input}.${base64Url(new Uint8Array(signature))}`;
}

/** The base64 body of a PEM: no error message may hold any 12-character run of it. */
function expectNoKeyMaterial(message: string, pem: string): void {
  const body = pem.replace(/-----[A-Z ]+-----/g, "").replace(/\\n|\s/g, "");
  for (let i = 0; i + 12 <= body.length; i += 4) expect(message).not.toContain(body.slice(i, i + 12));
}

function newFake(options: { suspended?: boolean; permissions?: Record<string, "read" | "write"> } = {}): FakeGitHubApp {
  // A clock that only moves when the test advances it: retry times and expiries compare exactly.
  const start = Date.now();
  const app = new FakeGitHubApp({ appId: APP_ID, slug: "syndarix-sync", name: "Syndarix Sync", publicKey: keys.publicKey, now: () => start });
  app.addInstallation({
    id: INSTALLATION,
    account: { login: "acme", id: 501, type: "Organization" },
    suspended: options.suspended ?? false,
    repositories: [{ id: 9001, fullName: "acme/widgets" }],
    ...(options.permissions ? { permissions: options.permissions } : {}),
  });
  return app;
}

interface Exchange {
  request: Request;
  response: Response;
}

/** A fetch into the fake that fails any other request and keeps copies of every exchange. */
function fetchInto(app: FakeGitHubApp, log: Exchange[] = []): typeof fetch {
  return (async (input: RequestInfo | URL, init?: RequestInit) => {
    const request = new Request(input, init);
    const response = await app.handle(request.clone());
    if (!response) throw new Error(`offline test: unexpected ${request.method} ${request.url}`);
    log.push({ request, response: response.clone() });
    return response;
  }) as typeof fetch;
}

function mintInput(app: FakeGitHubApp, overrides: Partial<MintInstallationTokenInput> = {}): MintInstallationTokenInput {
  return {
    apiBaseUrl: API,
    appId: String(APP_ID),
    privateKeyPem: keys.pkcs1Pem,
    installationId: INSTALLATION,
    fetch: fetchInto(app),
    now: () => app.now(),
    ...overrides,
  };
}

async function rejection(promise: Promise<unknown>): Promise<Error> {
  try {
    await promise;
  } catch (err) {
    return err as Error;
  }
  throw new Error("expected a rejection");
}

describe("App JWT", () => {
  it.each(["pkcs1Pem", "pkcs8Pem"] as const)("a %s key signs RS256 with iat 60 s back, exp 9 min ahead, iss the App id", async (kind) => {
    const now = Date.UTC(2025, 4, 6, 7, 8, 9, 500);
    const jwt = await signAppJwt({ appId: String(APP_ID), privateKeyPem: keys[kind], now: () => now });
    const [header = "", claims = ""] = jwt.split(".");
    expect(decodePart(header)).toEqual({ alg: "RS256", typ: "JWT" });
    const seconds = Math.floor(now / 1000);
    expect(decodePart(claims)).toEqual({ iat: seconds - 60, exp: seconds + 540, iss: APP_ID });
    expect(await verifies(jwt, keys.publicKey)).toBe(true);
    expect(await verifies(jwt, otherKeys.publicKey)).toBe(false);
  });

  it("keeps the lifetime within GitHub's 10 minutes", async () => {
    const jwt = await signAppJwt({ appId: APP_ID, privateKeyPem: keys.pkcs8Pem });
    const claims = decodePart(jwt.split(".")[1] ?? "") as { iat: number; exp: number };
    expect(claims.exp - claims.iat).toBeLessThanOrEqual(600);
    expect(claims.iat).toBeLessThan(Date.now() / 1000);
  });

  it("accepts the secret with escaped \\n, CRLF line ends, surrounding quotes or whitespace", async () => {
    const variants = [
      keys.pkcs1Pem.replace(/\n/g, "\\n"),
      keys.pkcs1Pem.replace(/\n/g, "\r\n"),
      `"${keys.pkcs8Pem.replace(/\n/g, "\\n")}"`,
      `\n  ${keys.pkcs8Pem}  \n`,
    ];
    for (const pem of variants) {
      const jwt = await signAppJwt({ appId: APP_ID, privateKeyPem: pem });
      expect(await verifies(jwt, keys.publicKey)).toBe(true);
    }
  });

  it("uses the client id as iss when that is what was configured", async () => {
    const jwt = await signAppJwt({ appId: "Iv23liAbCdEf123", privateKeyPem: keys.pkcs1Pem });
    expect(decodePart(jwt.split(".")[1] ?? "").iss).toBe("Iv23liAbCdEf123");
  });

  it("refuses an App id that is neither a number nor a client id", async () => {
    for (const appId of ["", "abc", "-3", "0", 1.5]) {
      await expect(signAppJwt({ appId, privateKeyPem: keys.pkcs1Pem })).rejects.toBeInstanceOf(AppIdInvalid);
    }
  });

  it("wraps PKCS#1 into exactly the PKCS#8 WebCrypto exports (DER long-form lengths)", async () => {
    const pkcs8 = privateKeyPkcs8Der(keys.pkcs8Pem);
    expect(wrapPkcs1InPkcs8(pkcs1FromPkcs8(pkcs8))).toEqual(pkcs8);
    expect(privateKeyPkcs8Der(keys.pkcs1Pem)).toEqual(pkcs8);
  });

  it("malformed keys give a clear AppPrivateKeyInvalid that holds no key material", async () => {
    const body = keys.pkcs1Pem.split("\n").slice(1, -2).join("\n");
    const ecPair = (await crypto.subtle.generateKey({ name: "ECDSA", namedCurve: "P-256" }, true, ["sign"])) as CryptoKeyPair;
    const ecPkcs8 = toPem("PRIVATE KEY", new Uint8Array((await crypto.subtle.exportKey("pkcs8", ecPair.privateKey)) as ArrayBuffer));
    const spki = toPem("PUBLIC KEY", new Uint8Array((await crypto.subtle.exportKey("spki", keys.publicKey)) as ArrayBuffer));
    const cases: Array<[string, string, RegExp]> = [
      ["base64 without armour", body, /not a PEM/],
      ["no END line", `-----BEGIN RSA PRIVATE KEY-----\n${body}\n`, /no matching END/],
      ["a public key", spki, /public key/],
      ["an encrypted PKCS#8 key", keys.pkcs8Pem.replace(/PRIVATE KEY/g, "ENCRYPTED PRIVATE KEY"), /encrypted/],
      ["an encrypted PKCS#1 key", keys.pkcs1Pem.replace("KEY-----\n", "KEY-----\nProc-Type: 4,ENCRYPTED\nDEK-Info: AES-128-CBC,00\n\n"), /encrypted/],
      ["an OpenSSH key", `-----BEGIN OPENSSH PRIVATE KEY-----\n${body}\n-----END OPENSSH PRIVATE KEY-----`, /OPENSSH PRIVATE KEY/],
      ["a body that is not base64", keys.pkcs1Pem.replace(body, `!@#$${body.slice(4)}`), /not valid base64/],
      ["a truncated body", keys.pkcs1Pem.replace(body, body.slice(0, 400)), /not a usable RSA private key/],
      ["PKCS#1 that is not DER", keys.pkcs1Pem.replace(body, btoa("x".repeat(120))), /does not hold a DER key/],
      ["an EC key", ecPkcs8, /not a usable RSA private key/],
    ];
    for (const [what, pem, reason] of cases) {
      const err = await rejection(signAppJwt({ appId: APP_ID, privateKeyPem: pem }));
      expect(err, what).toBeInstanceOf(AppPrivateKeyInvalid);
      expect(err.message, what).toMatch(reason);
      expectNoKeyMaterial(err.message, pem);
    }
  });
});

describe("installation token mint against the fake GitHub App", () => {
  it("201: returns the token and expires_at, one mint counted, the token valid for one hour", async () => {
    const app = newFake();
    const minted = await mintInstallationToken(mintInput(app));
    expect(minted.token).toMatch(/^ghs_[A-Za-z0-9]{36}$/);
    expect(Date.parse(minted.expiresAt) - app.now()).toBeGreaterThan(59 * MINUTE);
    expect(Date.parse(minted.expiresAt) - app.now()).toBeLessThanOrEqual(60 * MINUTE);
    expect(minted.expiresAt).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.000Z$/);
    expect(app.mintCount(INSTALLATION)).toBe(1);
    expect(app.installationOfToken(minted.token)).toBe(INSTALLATION);
    expect(app.isValidToken(minted.token)).toBe("valid");
    expect(app.isValidToken("ghs_somethingelse")).toBe("unknown");
    app.advance(60 * MINUTE);
    expect(app.isValidToken(minted.token)).toBe("expired");
  });

  it("works with a PKCS#8 key and a GitHub Enterprise API base", async () => {
    const app = new FakeGitHubApp({ appId: APP_ID, slug: "s", publicKey: keys.publicKey, apiBaseUrl: "https://ghe.example/api/v3" });
    app.addInstallation({ id: 7, account: { login: "acme", id: 1 }, repositories: [] });
    const log: Exchange[] = [];
    const minted = await mintInstallationToken(
      mintInput(app, { apiBaseUrl: "https://ghe.example/api/v3/", installationId: 7, privateKeyPem: keys.pkcs8Pem, fetch: fetchInto(app, log) }),
    );
    expect(app.isValidToken(minted.token)).toBe("valid");
    expect(log[0]?.request.url).toBe("https://ghe.example/api/v3/app/installations/7/access_tokens");
    expect(await app.handle(new Request("https://ghe.example/api/v3/repos/acme/widgets/issues"))).toBeNull();
  });

  it("the mint call and its answer match GitHub's OpenAPI description of apps/create-installation-access-token", async () => {
    const app = newFake();
    const log: Exchange[] = [];
    await mintInstallationToken(mintInput(app, { fetch: fetchInto(app, log) }));
    const { request, response } = log[0] ?? expect.unreachable();
    const operation = appSchemas.createInstallationAccessToken;
    expect(request.method).toBe(operation.method);
    expect(new URL(request.url).pathname).toBe(operation.path.replace("{installation_id}", String(INSTALLATION)));
    expect(request.headers.get("accept")).toBe("application/vnd.github+json");
    expect(request.headers.get("x-github-api-version")).toBe("2022-11-28");
    expect(request.headers.get("user-agent")).toBeTruthy();
    expect(request.headers.get("authorization")).toMatch(/^Bearer [\w-]+\.[\w-]+\.[\w-]+$/);
    expect(request.headers.get("content-type")).toBe("application/json");
    const body = await request.json();
    expectValid(validateCreateInstallationAccessTokenRequest, body);
    expect(body).toEqual({ permissions: { issues: "write", metadata: "read" } });
    expect(response.status).toBe(201);
    expectValid(validateInstallationToken, await response.json());
  });

  it("GET /app gives the slug, so the bot login is <slug>[bot]; the answer matches the OpenAPI integration schema", async () => {
    const app = newFake();
    const log: Exchange[] = [];
    const slug = await fetchAppSlug({ apiBaseUrl: API, appId: APP_ID, privateKeyPem: keys.pkcs1Pem, fetch: fetchInto(app, log) });
    expect(slug).toBe("syndarix-sync");
    expect(appBotLogin(slug)).toBe("syndarix-sync[bot]");
    const { request, response } = log[0] ?? expect.unreachable();
    expect(`${request.method} ${new URL(request.url).pathname}`).toBe(`${appSchemas.getAuthenticatedApp.method} ${appSchemas.getAuthenticatedApp.path}`);
    expectValid(validateIntegration, await response.json());
  });

  it("401 for a key that is not the App's: AppCredentialsRejected with GitHub's reason, no key material", async () => {
    const app = newFake();
    const log: Exchange[] = [];
    const err = await rejection(mintInstallationToken(mintInput(app, { privateKeyPem: otherKeys.pkcs1Pem, fetch: fetchInto(app, log) })));
    expect(err).toBeInstanceOf(AppCredentialsRejected);
    expect((err as AppCredentialsRejected).status).toBe(401);
    expect(err.message).toContain("A JSON web token could not be decoded");
    expectNoKeyMaterial(err.message, otherKeys.pkcs1Pem);
    expect(err.message).not.toContain(log[0]?.request.headers.get("authorization")?.slice(7, 40));
    expectValid(validateBasicError, await log[0]?.response.json());
    expect(app.totalMints).toBe(0);
    await expect(fetchAppSlug({ apiBaseUrl: API, appId: APP_ID, privateKeyPem: otherKeys.pkcs8Pem, fetch: fetchInto(app) })).rejects.toBeInstanceOf(
      AppCredentialsRejected,
    );
  });

  it("401 for the wrong App id, and for a signer whose clock runs far ahead", async () => {
    const app = newFake();
    await expect(mintInstallationToken(mintInput(app, { appId: "999" }))).rejects.toBeInstanceOf(AppCredentialsRejected);
    const ahead = await rejection(mintInstallationToken(mintInput(app, { now: () => app.now() + 5 * MINUTE })));
    expect(ahead).toBeInstanceOf(AppCredentialsRejected);
    expect(app.totalMints).toBe(0);
  });

  it("404 for an installation that does not exist: InstallationGone", async () => {
    const app = newFake();
    const log: Exchange[] = [];
    const err = await rejection(mintInstallationToken(mintInput(app, { installationId: 777, fetch: fetchInto(app, log) })));
    expect(err).toBeInstanceOf(InstallationGone);
    expect((err as InstallationGone).installationId).toBe(777);
    expectValid(validateBasicError, await log[0]?.response.json());
    app.removeInstallation(INSTALLATION);
    await expect(mintInstallationToken(mintInput(app))).rejects.toBeInstanceOf(InstallationGone);
  });

  it("403 for a suspended installation: InstallationSuspended; unsuspending lets the mint through", async () => {
    const app = newFake({ suspended: true });
    const log: Exchange[] = [];
    const err = await rejection(mintInstallationToken(mintInput(app, { fetch: fetchInto(app, log) })));
    expect(err).toBeInstanceOf(InstallationSuspended);
    expect(err.message).toMatch(/suspended/);
    expect(log[0]?.response.status).toBe(403);
    expectValid(validateBasicError, await log[0]?.response.json());
    app.setSuspended(INSTALLATION, false);
    expect(app.isValidToken((await mintInstallationToken(mintInput(app))).token)).toBe("valid");
  });

  it("a spent rate limit is a RateLimitedError at the reset; a secondary limit at Retry-After", async () => {
    const app = newFake();
    app.rateLimitNext("primary");
    const primary = await rejection(mintInstallationToken(mintInput(app)));
    expect(primary).toBeInstanceOf(RateLimitedError);
    expect((primary as RateLimitedError).status).toBe(403);
    expect(Date.parse((primary as RateLimitedError).retryAt)).toBe(Math.floor(app.now() / 1000) * 1000 + 30 * MINUTE);

    app.rateLimitNext("secondary");
    const secondary = await rejection(fetchAppSlug({ apiBaseUrl: API, appId: APP_ID, privateKeyPem: keys.pkcs1Pem, fetch: fetchInto(app), now: () => app.now() }));
    expect(secondary).toBeInstanceOf(RateLimitedError);
    expect((secondary as RateLimitedError).status).toBe(429);
    expect(Date.parse((secondary as RateLimitedError).retryAt)).toBe(app.now() + MINUTE);
    expect(app.totalMints).toBe(0);
  });

  it("an installation that does not grant issues:write answers 422: a TrackerError naming GitHub's reason", async () => {
    const app = newFake({ permissions: { issues: "read", metadata: "read" } });
    const err = await rejection(mintInstallationToken(mintInput(app)));
    expect(err).toBeInstanceOf(TrackerError);
    expect((err as TrackerError).status).toBe(422);
    expect((err as TrackerError).retryable).toBe(false);
    expect(err.message).toContain("not granted");
  });

  it("5xx and network failures are retryable TrackerErrors; a 201 without a token is not accepted", async () => {
    const answer = (status: number, body: unknown) => (async () => new Response(JSON.stringify(body), { status })) as unknown as typeof fetch;
    const base = { apiBaseUrl: API, appId: APP_ID, privateKeyPem: keys.pkcs1Pem, installationId: INSTALLATION };
    const server = await rejection(mintInstallationToken({ ...base, fetch: answer(502, { message: "Bad gateway" }) }));
    expect(server).toBeInstanceOf(TrackerError);
    expect((server as TrackerError).retryable).toBe(true);
    const network = await rejection(mintInstallationToken({ ...base, fetch: (async () => Promise.reject(new TypeError("boom"))) as typeof fetch }));
    expect((network as TrackerError).retryable).toBe(true);
    for (const body of [{ expires_at: "2030-01-01T00:00:00Z" }, { token: "ghs_x", expires_at: "soon" }, null]) {
      const bad = await rejection(mintInstallationToken({ ...base, fetch: answer(201, body) }));
      expect(bad).toBeInstanceOf(TrackerError);
      expect((bad as TrackerError).retryable).toBe(false);
      expect(bad.message).not.toContain("ghs_x");
    }
  });
});

describe("token refresh policy", () => {
  const expiresAt = "2025-01-01T12:00:00.000Z";
  const at = Date.parse(expiresAt);
  it.each([
    ["an hour left", false, at - 60 * MINUTE],
    ["just over five minutes left", false, at - 5 * MINUTE - 1],
    ["exactly five minutes left", false, at - 5 * MINUTE],
    ["just under five minutes left", true, at - 5 * MINUTE + 1],
    ["expired", true, at + 1],
  ])("%s → refresh %s", (_what, expected, now) => {
    expect(tokenNeedsRefresh(expiresAt, now)).toBe(expected);
  });
  it("no or an unreadable expiry always refreshes", () => {
    expect(tokenNeedsRefresh(null, at)).toBe(true);
    expect(tokenNeedsRefresh("", at)).toBe(true);
    expect(tokenNeedsRefresh("not a date", at)).toBe(true);
  });
});

describe("the fake GitHub App checks JWTs as GitHub does", () => {
  async function status(app: FakeGitHubApp, jwt: string | null): Promise<[number, string]> {
    const headers: Record<string, string> = jwt === null ? {} : { authorization: `Bearer ${jwt}` };
    const res = (await app.handle(new Request(`${API}/app`, { headers }))) ?? expect.unreachable();
    const body = (await res.json()) as { message: string };
    expectValid(res.status === 200 ? validateIntegration : validateBasicError, body);
    return [res.status, body.message];
  }

  it("accepts our JWT, the App id or the client id as iss", async () => {
    const app = newFake();
    const now = Math.floor(app.now() / 1000);
    expect((await status(app, await signAppJwt({ appId: APP_ID, privateKeyPem: keys.pkcs1Pem, now: () => app.now() })))[0]).toBe(200);
    expect((await status(app, await signRaw(keys.pkcs1Pem, { iat: now - 60, exp: now + 540, iss: app.clientId })))[0]).toBe(200);
  });

  it("refuses expired, future-dated, over-long, wrong-iss, unsigned and missing JWTs with 401", async () => {
    const app = newFake();
    const now = Math.floor(app.now() / 1000);
    const cases: Array<[string, string | null, RegExp]> = [
      ["expired", await signAppJwt({ appId: APP_ID, privateKeyPem: keys.pkcs1Pem, now: () => app.now() - 11 * MINUTE }), /'Expiration time' claim \('exp'\) must be a numeric value/],
      ["iat in the future", await signRaw(keys.pkcs1Pem, { iat: now + 120, exp: now + 300, iss: APP_ID }), /'Issued at' claim/],
      ["exp - iat > 600", await signRaw(keys.pkcs1Pem, { iat: now - 60, exp: now + 541, iss: APP_ID }), /too far in the future/],
      ["wrong iss", await signRaw(keys.pkcs1Pem, { iat: now - 60, exp: now + 540, iss: APP_ID + 1 }), /could not be decoded/],
      ["iss as a string of the id", await signRaw(keys.pkcs1Pem, { iat: now - 60, exp: now + 540, iss: String(APP_ID + 1) }), /could not be decoded/],
      ["another key", await signRaw(otherKeys.pkcs1Pem, { iat: now - 60, exp: now + 540, iss: APP_ID }), /could not be decoded/],
      ["alg none", (await signRaw(keys.pkcs1Pem, { iat: now - 60, exp: now + 540, iss: APP_ID }, { alg: "none" })), /could not be decoded/],
      ["not a JWT", "ghs_installationtoken", /could not be decoded/],
      ["no Authorization", null, /could not be decoded/],
    ];
    for (const [what, jwt, message] of cases) {
      const [code, text] = await status(app, jwt);
      expect(code, what).toBe(401);
      expect(text, what).toMatch(message);
    }
  });

  it("a JWT that was fine expires as the fake's clock moves on", async () => {
    const app = newFake();
    const jwt = await signAppJwt({ appId: APP_ID, privateKeyPem: keys.pkcs1Pem, now: () => app.now() });
    expect((await status(app, jwt))[0]).toBe(200);
    app.advance(9 * MINUTE + 1000);
    expect(await status(app, jwt)).toEqual([401, expect.stringMatching(/'Expiration time'/)]);
  });

  it("counts mints per installation and can expire every token at once", async () => {
    const app = newFake();
    app.addInstallation({ id: 5, account: { login: "other", id: 2, type: "User" }, repositories: [{ id: 1, fullName: "other/r" }] });
    const first = await mintInstallationToken(mintInput(app));
    await mintInstallationToken(mintInput(app));
    const third = await mintInstallationToken(mintInput(app, { installationId: 5 }));
    expect([app.mintCount(INSTALLATION), app.mintCount(5), app.totalMints]).toEqual([2, 1, 3]);
    app.expireAllTokens();
    expect([app.isValidToken(first.token), app.isValidToken(third.token)]).toEqual(["expired", "expired"]);
  });

  it("answers null for paths that are not App endpoints", async () => {
    const app = newFake();
    for (const path of ["/repos/acme/widgets/issues", "/apps/syndarix-sync", "/app/installations", "/user"]) {
      expect(await app.handle(new Request(`${API}${path}`)), path).toBeNull();
    }
  });
});
