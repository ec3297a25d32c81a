/**
 * The dashboard's project form (new project, and the settings on the project page): every setting
 * of `POST/PATCH /api/v1/projects`, as form fields. The urlencoded form is turned into the same
 * object the API takes and parsed by the same schema (src/jobs/projects.ts), so a bad value gets
 * the API's error, shown next to its field. Token and webhook secret are write-only: never filled in.
 */
import type { Child } from "hono/jsx";
import type { ProjectRow } from "../db/schema";
import type { FieldError } from "../errors";
import { DEFAULT_API_BASE_URL } from "../providers";
import { PROVIDERS } from "../providers/types";
import { SettingsFields } from "../jobs/project-settings";
import { DIRECTED_FIELDS, settingsOf, type ValueMapEntry } from "../sync/project-settings";
import { prAutomationOf } from "../sync/pull-requests";
import type { DryRunReport } from "../sync/dry-run";
import { Layout, type Viewer } from "./pages";

/** The form's fields by name, as strings (what the browser posts). */
export type FormValues = Record<string, string>;

const DIRECTIONS = ["bidirectional", "inbound", "outbound"] as const;
const MASTERS = ["tracker", "local"] as const;
const DELETION_POLICIES = ["orphan", "delete", "recreate"] as const;
const CLOSE_ON_MERGE = ["never", "default_branch", "any_branch"] as const;
const LABEL_CREATION = SettingsFields.labelPolicy.shape.createMissing.options;
const SCOPE_STATES = ["open", "all"] as const;
/** Read from the schema, so a new way of leaving scope shows up here without a second list. */
const SCOPE_ON_LEAVE: readonly string[] = SettingsFields.scope.unwrap().shape.onLeave.unwrap().options;
const FIELD_DIRECTIONS = ["both", "inbound", "outbound", "none"] as const;

/** Fields not in a dry run and only sent on an edit when they change (they point at another tracker). */
const CONNECTION_FIELDS = ["provider", "apiBaseUrl", "repository", "installationId"] as const;

function mapLines(entries: ValueMapEntry[]): string {
  return entries.map((e) => `${e.local} = ${e.tracker.join(", ")}`).join("\n");
}

/** The form as it shows a saved project (no secrets). */
export function valuesOfProject(p: ProjectRow): FormValues {
  const s = settingsOf(p);
  const pr = prAutomationOf(p);
  const values: FormValues = {
    name: p.name,
    provider: p.provider,
    apiBaseUrl: p.apiBaseUrl,
    repository: p.repository,
    installationId: p.installationId === null ? "" : String(p.installationId),
    syncDirection: p.syncDirection,
    master: p.master,
    deletionPolicy: p.deletionPolicy,
    commentAttribution: String(p.commentAttribution),
    gitlabInternalNotes: String(p.gitlabInternalNotes),
    "prAutomation.closeOnMerge": pr.closeOnMerge,
    "prAutomation.statusLabels.in_progress": pr.statusLabels?.in_progress ?? "",
    "prAutomation.statusLabels.in_review": pr.statusLabels?.in_review ?? "",
    "labelPolicy.createMissing": s.labelPolicy.createMissing,
    "milestonePolicy.createMissing": String(s.milestonePolicy.createMissing),
    "fieldMaps.labels": mapLines(s.fieldMaps.labels),
    "fieldMaps.milestone": mapLines(s.fieldMaps.milestone),
    "scope.labelsAny": (s.scope?.labelsAny ?? []).join(", "),
    "scope.labelsNone": (s.scope?.labelsNone ?? []).join(", "),
    "scope.state": s.scope?.state ?? "",
    "scope.createdSince": s.scope?.createdSince ?? "",
    "scope.onLeave": s.scope?.onLeave ?? SCOPE_ON_LEAVE[0] ?? "",
  };
  for (const f of DIRECTED_FIELDS) values[`fieldDirections.${f}`] = s.fieldDirections[f] ?? "";
  return values;
}

/** The form a new project starts from. */
export function newProjectValues(): FormValues {
  const values: FormValues = {
    provider: "github",
    syncDirection: "bidirectional",
    master: "tracker",
    deletionPolicy: "orphan",
    commentAttribution: "false",
    gitlabInternalNotes: "false",
    "prAutomation.closeOnMerge": "never",
    "labelPolicy.createMissing": "always",
    "milestonePolicy.createMissing": "false",
    "scope.onLeave": SCOPE_ON_LEAVE[0] ?? "",
  };
  return values;
}

/** Only the string fields of a parsed urlencoded body (files and repeated names are not ours). */
export function formValues(body: Record<string, unknown>): FormValues {
  const out: FormValues = {};
  for (const [k, v] of Object.entries(body)) if (typeof v === "string" && k !== "_csrf" && k !== "intent") out[k] = v;
  return out;
}

function text(v: string | undefined): string | undefined {
  const t = v?.trim();
  return t ? t : undefined;
}

/** "true"/"false" as booleans; anything else is passed on for the schema to refuse by name. */
function bool(v: string | undefined): boolean | string | undefined {
  const t = text(v);
  return t === "true" ? true : t === "false" ? false : t;
}

function list(v: string | undefined): string[] | undefined {
  const items = (v ?? "").split(",").map((x) => x.trim()).filter(Boolean);
  return items.length ? items : undefined;
}

/** "local = tracker1, tracker2" per line (a line without "=" has no tracker values: the schema says so). */
function mapEntries(v: string | undefined): { local: string; tracker: string[] }[] {
  return (v ?? "")
    .split(/\r?\n/)
    .filter((line) => line.trim() !== "")
    .map((line) => {
      const at = line.indexOf("=");
      const local = (at < 0 ? line : line.slice(0, at)).trim();
      return { local, tracker: at < 0 ? [] : (list(line.slice(at + 1)) ?? []) };
    });
}

/** The API body the form stands for (create: every field given; the schema decides what is missing). */
export function formToBody(form: FormValues): Record<string, unknown> {
  const body: Record<string, unknown> = {};
  const put = (k: string, v: unknown) => {
    if (v !== undefined) body[k] = v;
  };
  put("name", text(form.name));
  put("provider", text(form.provider));
  put("apiBaseUrl", text(form.apiBaseUrl));
  put("repository", text(form.repository));
  // Secrets are taken as typed (a token with surrounding spaces is refused by the schema, not altered).
  put("token", form.token ? form.token : undefined);
  put("webhookSecret", form.webhookSecret ? form.webhookSecret : undefined);
  const installation = text(form.installationId);
  put("installationId", installation === undefined ? undefined : /^\d+$/.test(installation) ? Number(installation) : installation);
  put("syncDirection", text(form.syncDirection));
  put("master", text(form.master));
  put("deletionPolicy", text(form.deletionPolicy));
  put("commentAttribution", bool(form.commentAttribution));
  put("gitlabInternalNotes", bool(form.gitlabInternalNotes));
  const closeOnMerge = text(form["prAutomation.closeOnMerge"]);
  if (closeOnMerge !== undefined) {
    const inProgress = text(form["prAutomation.statusLabels.in_progress"]);
    const inReview = text(form["prAutomation.statusLabels.in_review"]);
    body.prAutomation = {
      closeOnMerge,
      ...(inProgress || inReview ? { statusLabels: { ...(inProgress ? { in_progress: inProgress } : {}), ...(inReview ? { in_review: inReview } : {}) } } : {}),
    };
  }
  const labelCreation = text(form["labelPolicy.createMissing"]);
  if (labelCreation !== undefined) body.labelPolicy = { createMissing: labelCreation };
  const milestoneCreation = bool(form["milestonePolicy.createMissing"]);
  if (milestoneCreation !== undefined) body.milestonePolicy = { createMissing: milestoneCreation };
  if ("fieldMaps.labels" in form || "fieldMaps.milestone" in form) {
    body.fieldMaps = { labels: mapEntries(form["fieldMaps.labels"]), milestone: mapEntries(form["fieldMaps.milestone"]) };
  }
  const scope = {
    labelsAny: list(form["scope.labelsAny"]),
    labelsNone: list(form["scope.labelsNone"]),
    state: text(form["scope.state"]),
    createdSince: text(form["scope.createdSince"]),
  };
  const scoped = Object.values(scope).some((v) => v !== undefined);
  if ("scope.labelsAny" in form) {
    body.scope = scoped ? Object.fromEntries(Object.entries({ ...scope, onLeave: text(form["scope.onLeave"]) }).filter(([, v]) => v !== undefined)) : null;
  }
  const directions = Object.fromEntries(DIRECTED_FIELDS.flatMap((f) => (text(form[`fieldDirections.${f}`]) ? [[f, text(form[`fieldDirections.${f}`])]] : [])));
  if (DIRECTED_FIELDS.some((f) => `fieldDirections.${f}` in form)) body.fieldDirections = directions;
  return body;
}

/**
 * An edit's API body: only what the form changes (an untouched default is not written as a change,
 * and the connection fields stay out of a preview unless edited); secrets only when typed.
 */
export function formToUpdateBody(form: FormValues, current: ProjectRow): Record<string, unknown> {
  const body = formToBody(form);
  const saved = formToBody(valuesOfProject(current));
  for (const key of Object.keys(body)) if (key !== "token" && key !== "webhookSecret" && JSON.stringify(body[key]) === JSON.stringify(saved[key])) delete body[key];
  // A cleared optional field (API base URL, installation) means "as before", not "remove".
  for (const f of CONNECTION_FIELDS) if (text(form[f]) === undefined) delete body[f];
  return body;
}

/** Field errors by the form field that shows them ("fieldMaps.labels.2.local" → "fieldMaps.labels", line 3). */
export function errorsByField(errors: FieldError[], values: FormValues): { byField: Map<string, string[]>; other: FieldError[] } {
  const names = Object.keys(values).concat(Object.keys(newProjectValues()), ["token", "webhookSecret", "name", "repository", "apiBaseUrl", "installationId"]);
  const byField = new Map<string, string[]>();
  const other: FieldError[] = [];
  for (const e of errors) {
    const map = /^fieldMaps\.(labels|milestone)\.(\d+)(?:\.(.+))?$/.exec(e.field);
    let name: string | undefined;
    let message = e.message;
    if (map) {
      name = `fieldMaps.${map[1]}`;
      message = `line ${Number(map[2]) + 1}${map[3] ? ` (${map[3].replace(/\.\d+$/, "")})` : ""}: ${e.message}`;
    } else {
      // The longest form field the error's path starts with ("scope.labelsAny.0" → "scope.labelsAny").
      name = names.filter((n) => e.field === n || e.field.startsWith(`${n}.`)).sort((a, b) => b.length - a.length)[0];
      if (!name && (e.field === "scope" || e.field === "fieldMaps" || e.field === "prAutomation" || e.field === "fieldDirections")) name = `${e.field}-group`;
    }
    if (!name) {
      other.push(e);
      continue;
    }
    byField.set(name, [...(byField.get(name) ?? []), message]);
  }
  return { byField, other };
}

interface FieldProps {
  name: string;
  label: string;
  values: FormValues;
  errors: Map<string, string[]>;
  hint?: Child;
}

function idOf(name: string): string {
  return `pf-${name.replace(/[^A-Za-z0-9_-]/g, "-")}`;
}

function Errors(props: { name: string; errors: Map<string, string[]> }) {
  const list = props.errors.get(props.name);
  if (!list?.length) return null;
  return (
    <span class="error field-error" id={`${idOf(props.name)}-error`}>
      {list.join("; ")}
    </span>
  );
}

function describedBy(props: { name: string; errors: Map<string, string[]>; hint?: Child }): string | undefined {
  const ids = [props.hint ? `${idOf(props.name)}-hint` : null, props.errors.get(props.name)?.length ? `${idOf(props.name)}-error` : null].filter(Boolean);
  return ids.length ? ids.join(" ") : undefined;
}

function Row(props: FieldProps & { children: Child }) {
  return (
    <div class="field">
      <label for={idOf(props.name)}>{props.label}</label>
      {props.children}
      {props.hint && (
        <span class="muted hint" id={`${idOf(props.name)}-hint`}>
          {props.hint}
        </span>
      )}
      <Errors name={props.name} errors={props.errors} />
    </div>
  );
}

function Input(props: FieldProps & { type?: string; required?: boolean; secret?: boolean }) {
  return (
    <Row {...props}>
      <input
        id={idOf(props.name)}
        name={props.name}
        type={props.type ?? "text"}
        value={props.secret ? "" : (props.values[props.name] ?? "")}
        required={props.required}
        autocomplete="off"
        aria-invalid={props.errors.has(props.name) ? "true" : undefined}
        aria-describedby={describedBy(props)}
      />
    </Row>
  );
}

function Select(props: FieldProps & { options: readonly (string | [string, string])[] }) {
  const current = props.values[props.name] ?? "";
  return (
    <Row {...props}>
      <select id={idOf(props.name)} name={props.name} aria-invalid={props.errors.has(props.name) ? "true" : undefined} aria-describedby={describedBy(props)}>
        {props.options.map((o) => {
          const [value, label] = typeof o === "string" ? [o, o] : o;
          return (
            <option value={value} selected={current === value}>
              {label}
            </option>
          );
        })}
      </select>
    </Row>
  );
}

function TextArea(props: FieldProps) {
  return (
    <Row {...props}>
      <textarea
        id={idOf(props.name)}
        name={props.name}
        rows={3}
        aria-invalid={props.errors.has(props.name) ? "true" : undefined}
        aria-describedby={describedBy(props)}
      >
        {props.values[props.name] ?? ""}
      </textarea>
    </Row>
  );
}

const YES_NO: [string, string][] = [
  ["false", "no"],
  ["true", "yes"],
];

export interface ProjectFormProps {
  mode: "new" | "edit";
  action: string;
  csrf: string;
  values: FormValues;
  errors: FieldError[];
  /** A read-only viewer sees the settings, not the buttons. */
  canWrite: boolean;
  /** What the last "Test connection" of the form found (new project). */
  connection?: { ok: boolean; text: string } | null;
}

/** Every setting of a project, grouped as the API documents them. */
export function ProjectForm(props: ProjectFormProps) {
  const { byField, other } = errorsByField(props.errors, props.values);
  const f = { values: props.values, errors: byField };
  const edit = props.mode === "edit";
  const secretHint = edit ? "write-only: leave empty to keep the stored one" : "write-only: stored encrypted, never shown again";
  return (
    <form method="post" action={props.action} id="project-form" class="project-form">
      <input type="hidden" name="_csrf" value={props.csrf} />
      {props.errors.length > 0 && (
        <div role="alert" id="form-errors" class="error">
          <p>Nothing was saved. Fix these and try again:</p>
          <ul>
            {props.errors.map((e) => (
              <li>
                <code>{e.field}</code>: {e.message}
              </li>
            ))}
          </ul>
        </div>
      )}
      {other.length > 0 && <p class="error">{other.map((e) => `${e.field}: ${e.message}`).join("; ")}</p>}
      {props.connection && (
        <p id="connection-result" role="status" class={props.connection.ok ? "ok" : "error"}>
          {props.connection.text}
        </p>
      )}
      <fieldset disabled={!props.canWrite}>
        <legend>Tracker and credentials</legend>
        <Input {...f} name="name" label="Name" required />
        <Select {...f} name="provider" label="Tracker" options={PROVIDERS} />
        <Input
          {...f}
          name="apiBaseUrl"
          label="API base URL"
          type="url"
          hint={`empty: ${Object.entries(DEFAULT_API_BASE_URL)
            .filter(([, v]) => v)
            .map(([k, v]) => `${k} ${v}`)
            .join(", ")}; required for gitea`}
        />
        <Input {...f} name="repository" label="Repository" required hint='"owner/name" (GitLab: "group/sub/project" or the numeric id)' />
        <Input {...f} name="token" label="Token" type="password" secret hint={secretHint} />
        <Input {...f} name="webhookSecret" label="Webhook secret" type="password" secret hint={`${secretHint}; at least 20 characters`} />
        <Input {...f} name="installationId" label="GitHub App installation id" hint="GitHub only, instead of a token" />
      </fieldset>
      <fieldset disabled={!props.canWrite}>
        <legend>Sync</legend>
        <Select {...f} name="syncDirection" label="Direction" options={DIRECTIONS} />
        <Select {...f} name="master" label="Wins a conflict" options={MASTERS} />
        <Select {...f} name="deletionPolicy" label="Issue deleted on the tracker" options={DELETION_POLICIES} hint='"recreate" only for outbound projects' />
        <Select {...f} name="commentAttribution" label="Name the local author in pushed comments" options={YES_NO} />
        <Select {...f} name="gitlabInternalNotes" label="Send internal comments as GitLab internal notes" options={YES_NO} hint="GitLab only" />
        <Select {...f} name="prAutomation.closeOnMerge" label="Close the issue when its pull request merges" options={CLOSE_ON_MERGE} />
        <Input {...f} name="prAutomation.statusLabels.in_progress" label="Label while in progress" />
        <Input {...f} name="prAutomation.statusLabels.in_review" label="Label while in review" />
      </fieldset>
      <fieldset disabled={!props.canWrite}>
        <legend>Values</legend>
        <Select {...f} name="labelPolicy.createMissing" label="Create missing labels on the tracker" options={LABEL_CREATION} />
        <Select {...f} name="milestonePolicy.createMissing" label="Create missing milestones on the tracker" options={YES_NO} />
        <TextArea {...f} name="fieldMaps.labels" label="Label map" hint='one per line: "local = tracker, other tracker" (the first is written to the tracker)' />
        <TextArea {...f} name="fieldMaps.milestone" label="Milestone map" hint='one per line: "local = tracker title"' />
        <Errors name="fieldMaps-group" errors={byField} />
      </fieldset>
      <fieldset disabled={!props.canWrite}>
        <legend>Scope (all empty: every issue)</legend>
        <Input {...f} name="scope.labelsAny" label="Only issues with any of the labels" hint="comma-separated" />
        <Input {...f} name="scope.labelsNone" label="Except issues with any of the labels" hint="comma-separated" />
        <Select {...f} name="scope.state" label="State" options={[["", "any"], ...SCOPE_STATES.map((s) => [s, s] as [string, string])]} />
        <Input {...f} name="scope.createdSince" label="Created since" hint="ISO UTC, e.g. 2026-01-01T00:00:00Z" />
        <Select {...f} name="scope.onLeave" label="An issue leaving scope is" options={SCOPE_ON_LEAVE} hint="never closed or deleted on either side" />
        <Errors name="scope-group" errors={byField} />
      </fieldset>
      <fieldset disabled={!props.canWrite}>
        <legend>Direction per field (empty: the project's direction)</legend>
        {DIRECTED_FIELDS.map((field) => (
          <Select {...f} name={`fieldDirections.${field}`} label={field} options={[["", "project's"], ...FIELD_DIRECTIONS.map((d) => [d, d] as [string, string])]} />
        ))}
        <Errors name="fieldDirections-group" errors={byField} />
      </fieldset>
      {props.canWrite &&
        (edit ? (
          <p>
            <button type="submit" name="intent" value="preview">
              Preview
            </button>{" "}
            <button type="submit" name="intent" value="save">
              Save
            </button>{" "}
            <span class="muted">Preview shows what a full run would do under these settings; nothing is written.</span>
          </p>
        ) : (
          <p>
            <button type="submit" name="intent" value="test">
              Test connection
            </button>{" "}
            <button type="submit" name="intent" value="create">
              Create project
            </button>{" "}
            <span class="muted">Creating reads the repository with the token first, then starts the first import.</span>
          </p>
        ))}
    </form>
  );
}

function show(v: unknown): string {
  return JSON.stringify(v) ?? "null";
}

/** The dry run's answer: counts, then the first per-issue diffs. */
export function DryRunView(props: { report: DryRunReport & { warnings?: FieldError[] } }) {
  const r = props.report;
  return (
    <section aria-labelledby="preview-title" id="preview">
      <h3 id="preview-title">Preview: what a full run would do under these settings (nothing was saved)</h3>
      {r.warnings?.map((w) => (
        <p class="error preview-warning">
          Note: <code>{w.field}</code> {w.message}.
        </p>
      ))}
      <ul id="preview-counts">
        <li>{r.wouldCreate} issues imported</li>
        <li>{r.wouldUpdate} issues updated or pushed</li>
        <li>{r.wouldLeaveScope} issues leaving scope (frozen: nothing closed or deleted)</li>
        <li>{r.wouldOrphan} linked issues missing from the tracker</li>
        <li>
          {r.wouldCreateLabels} labels created on the tracker{r.labelsToCreate.length ? `: ${r.labelsToCreate.join(", ")}` : ""}
        </li>
      </ul>
      {!r.complete && <p class="muted">The tracker's listing was cut after {r.pagesRead} pages: the counts cover those pages.</p>}
      {r.samples.length > 0 && (
        <div class="scroll">
          <table id="preview-samples">
            <thead>
              <tr>
                <th scope="col">Issue</th>
                <th scope="col">Would</th>
                <th scope="col">Changes</th>
                <th scope="col">Sent to the tracker</th>
              </tr>
            </thead>
            <tbody>
              {r.samples.map((s) => (
                <tr>
                  <td>{s.externalNumber !== null ? `#${s.externalNumber}` : <code>{s.issueId?.slice(-12) ?? ""}</code>}</td>
                  <td>{s.action.replace("_", " ")}</td>
                  <td>
                    {s.changes && (
                      <pre>
                        {Object.entries(s.changes)
                          .map(([k, c]) => `${k}: ${show(c.before)} → ${show(c.after)}`)
                          .join("\n")
                          .slice(0, 600)}
                      </pre>
                    )}
                  </td>
                  <td>{s.push.join(", ")}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
    </section>
  );
}

/** `/ui/projects/new`: the form, a connection test, and what was refused (next to its field). */
export function NewProjectPage(props: { viewer: Viewer; values?: FormValues; errors: FieldError[]; connection?: { ok: boolean; text: string } | null }) {
  return (
    <Layout title="New project" viewer={props.viewer}>
      <h1>New project</h1>
      <p>
        The token is tested against the repository before anything is saved; the first import starts as soon as the project is created. The same
        fields are documented for <code>POST /api/v1/projects</code>.
      </p>
      <ProjectForm
        mode="new"
        action="/ui/projects"
        csrf={props.viewer.csrf}
        values={props.values ?? newProjectValues()}
        errors={props.errors}
        canWrite={props.viewer.scope === "admin"}
        connection={props.connection ?? null}
      />
      {props.viewer.scope !== "admin" && <p class="muted">Your token may only read: creating a project needs an admin token.</p>}
    </Layout>
  );
}

/** A refused request or a failure, in words, with the way back. */
export function ErrorPage(props: { viewer?: Viewer | undefined; status: number; title: string; detail: string }) {
  return (
    <Layout title={props.title} viewer={props.viewer}>
      <h1>{props.title}</h1>
      <p role="alert">{props.detail}</p>
      <p>
        <a href="/ui/">Back to the overview</a>
      </p>
    </Layout>
  );
}
