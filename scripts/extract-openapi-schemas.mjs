// Extracts the GitHub schemas the tests validate against from @octokit/openapi's description, each
// with every schema it references (OpenAPI `nullable` converted for Ajv), into three small committed
// sets under test/fixtures/github/: `issue` (issues/create and issues/update request bodies, the
// `issue` object), `comment` (issues/create-comment and issues/update-comment bodies, `issue-comment`)
// and `app` (apps/create-installation-access-token body and 201 answer, `GET /app`'s `integration`,
// `basic-error`). For each set: openapi-<set>-schemas.json, and openapi-<set>-validators.js/.d.ts,
// Ajv validators compiled here because workerd forbids `new Function`.
// Run: node scripts/extract-openapi-schemas.mjs
import { readFileSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const require = createRequire(import.meta.url);
const Ajv = require("ajv").default;
const standaloneCode = require("ajv/dist/standalone").default;

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const outDir = join(root, "test/fixtures/github");
const specPath = require.resolve("@octokit/openapi/generated/api.github.com.json");
const specVersion = require("@octokit/openapi/package.json").version;
const spec = JSON.parse(readFileSync(specPath, "utf8"));

const DROP = new Set(["description", "example", "examples", "title", "deprecated", "externalDocs"]);

function operation(operationId) {
  for (const [path, methods] of Object.entries(spec.paths)) {
    for (const [method, op] of Object.entries(methods)) {
      if (op && op.operationId === operationId) return { path, method, op };
    }
  }
  throw new Error(`operation ${operationId} not found`);
}

/** OpenAPI 3.0 → JSON Schema for Ajv: `nullable`, local refs, no documentation keywords. */
function convert(node, refs) {
  if (Array.isArray(node)) return node.map((n) => convert(n, refs));
  if (!node || typeof node !== "object") return node;
  const out = {};
  for (const [key, value] of Object.entries(node)) {
    if (DROP.has(key) || key.startsWith("x-") || key === "nullable") continue;
    if (key === "$ref") {
      const name = value.replace("#/components/schemas/", "");
      refs.add(name);
      out.$ref = `#/$defs/${name}`;
    } else if (key === "properties") {
      // Property names are data, not keywords: never drop a property called "title".
      out.properties = Object.fromEntries(Object.entries(value).map(([k, v]) => [k, convert(v, refs)]));
    } else {
      out[key] = convert(value, refs);
    }
  }
  if (node.nullable === true) {
    if (typeof out.type === "string") {
      out.type = [out.type, "null"];
      if (Array.isArray(out.enum) && !out.enum.includes(null)) out.enum = [...out.enum, null];
    } else {
      return { anyOf: [out, { type: "null" }] };
    }
  }
  return out;
}

/** A schema plus every component it reaches, under `$defs`. */
function withDefinitions(schema) {
  const refs = new Set();
  const converted = convert(schema, refs);
  const defs = {};
  const pending = [...refs];
  while (pending.length > 0) {
    const name = pending.pop();
    if (defs[name]) continue;
    const more = new Set();
    defs[name] = convert(spec.components.schemas[name], more);
    for (const ref of more) if (!defs[ref]) pending.push(ref);
  }
  return Object.keys(defs).length > 0 ? { ...converted, $defs: defs } : converted;
}

const source = `@octokit/openapi ${specVersion} (api.github.com)`;
const requestBody = (operationId) => withDefinitions(operation(operationId).op.requestBody.content["application/json"].schema);
const component = (name) => withDefinitions({ $ref: `#/components/schemas/${name}` });
const mint = operation("apps/create-installation-access-token");
const getApp = operation("apps/get-authenticated");
const answer = (op, status) => withDefinitions(op.op.responses[status].content["application/json"].schema);

/** Each set: its schemas (plus plain data such as an operation's method and path) and its validators. */
const SETS = {
  issue: {
    schemas: {
      issuesCreateRequest: requestBody("issues/create"),
      issuesUpdateRequest: requestBody("issues/update"),
      issue: component("issue"),
    },
    validators: { validateIssuesCreateRequest: "issuesCreateRequest", validateIssuesUpdateRequest: "issuesUpdateRequest", validateIssue: "issue" },
  },
  comment: {
    schemas: {
      commentCreateRequest: requestBody("issues/create-comment"),
      commentUpdateRequest: requestBody("issues/update-comment"),
      issueComment: component("issue-comment"),
    },
    validators: { validateCommentCreateRequest: "commentCreateRequest", validateCommentUpdateRequest: "commentUpdateRequest", validateIssueComment: "issueComment" },
  },
  app: {
    schemas: {
      createInstallationAccessToken: { method: mint.method.toUpperCase(), path: mint.path },
      getAuthenticatedApp: { method: getApp.method.toUpperCase(), path: getApp.path },
      createInstallationAccessTokenRequest: requestBody("apps/create-installation-access-token"),
      installationToken: answer(mint, "201"),
      integration: answer(getApp, "200"),
      basicError: component("basic-error"),
    },
    validators: {
      validateCreateInstallationAccessTokenRequest: "createInstallationAccessTokenRequest",
      validateInstallationToken: "installationToken",
      validateIntegration: "integration",
      validateBasicError: "basicError",
    },
  },
};

for (const [set, { schemas, validators }] of Object.entries(SETS)) {
  writeFileSync(join(outDir, `openapi-${set}-schemas.json`), `${JSON.stringify({ source, ...schemas }, null, 1)}\n`);
  const ajv = new Ajv({ code: { source: true, esm: true }, strict: false, validateFormats: false });
  for (const id of Object.values(validators)) ajv.addSchema({ $id: id, ...schemas[id] });
  writeFileSync(
    join(outDir, `openapi-${set}-validators.js`),
    `// Generated by scripts/extract-openapi-schemas.mjs from ${source}. Do not edit.\n${standaloneCode(ajv, validators)}\n`,
  );
  writeFileSync(
    join(outDir, `openapi-${set}-validators.d.ts`),
    `// Generated by scripts/extract-openapi-schemas.mjs. Do not edit.
export interface SchemaError {
  instancePath: string;
  keyword: string;
  message?: string;
}
export interface Validator {
  (data: unknown): boolean;
  errors?: SchemaError[] | null;
}
${Object.keys(validators).map((name) => `export declare const ${name}: Validator;`).join("\n")}
`,
  );
}
console.log(`wrote the issue, comment and app schemas and validators from ${source}`);
