/**
 * The dashboard's project form as the API's body: what the browser posts becomes the object the
 * API's schema parses, and the schema's field errors land next to the form field that shows them.
 */
import { describe, expect, it } from "vitest";
import { parseCreateInput } from "../../src/jobs/projects";
import { ValidationFailed } from "../../src/errors";
import type { ProjectRow } from "../../src/db/schema";
import { errorsByField, formToBody, formToUpdateBody, newProjectValues, valuesOfProject } from "../../src/ui/project-form";

const FORM = {
  ...newProjectValues(),
  name: " Widgets ",
  repository: "acme/widgets",
  token: "tok",
  webhookSecret: "a-webhook-secret-of-twenty-plus",
  apiBaseUrl: "",
  installationId: "",
  "fieldMaps.labels": "bug = type/bug, kind:bug\n\n P1 = priority/high ",
  "fieldMaps.milestone": "",
  "scope.labelsAny": "",
  "scope.labelsNone": "",
  "scope.state": "",
  "scope.createdSince": "",
  "fieldDirections.title": "",
  "fieldDirections.state": "inbound",
};

function refused(raw: unknown): { field: string; message: string }[] {
  try {
    parseCreateInput(raw);
  } catch (err) {
    if (err instanceof ValidationFailed) return err.errors;
    throw err;
  }
  throw new Error("accepted");
}

describe("the project form as an API body", () => {
  it("maps lines, comma lists, yes/no and empty fields to the API's shapes", () => {
    const body = formToBody(FORM);
    expect(body).toMatchObject({
      name: "Widgets",
      provider: "github",
      repository: "acme/widgets",
      token: "tok",
      commentAttribution: false,
      milestonePolicy: { createMissing: false },
      labelPolicy: { createMissing: "always" },
      prAutomation: { closeOnMerge: "never" },
      fieldMaps: { labels: [{ local: "bug", tracker: ["type/bug", "kind:bug"] }, { local: "P1", tracker: ["priority/high"] }], milestone: [] },
      scope: null,
      fieldDirections: { state: "inbound" },
    });
    expect(body).not.toHaveProperty("apiBaseUrl");
    expect(body).not.toHaveProperty("installationId");
    expect(parseCreateInput({ ...body, syncDirection: "bidirectional" }).fieldMaps?.labels).toHaveLength(2);
  });

  it("a scope with any value given is an object; its lists are split on commas", () => {
    expect(formToBody({ ...FORM, "scope.labelsAny": "syndarix, sync ,", "scope.state": "open" }).scope).toEqual({ labelsAny: ["syndarix", "sync"], state: "open", onLeave: "freeze" });
  });

  it("a value the schema refuses is passed on as typed, so the error names its field", () => {
    const errors = refused(formToBody({ ...FORM, installationId: "12x", commentAttribution: "maybe", "fieldMaps.labels": "bug" }));
    expect(errors.map((e) => e.field).sort()).toEqual(["commentAttribution", "fieldMaps.labels.0.tracker", "installationId"]);
    const { byField, other } = errorsByField(errors, FORM);
    expect(other).toEqual([]);
    expect(byField.get("fieldMaps.labels")![0]).toMatch(/^line 1 \(tracker\): /);
    expect(byField.has("installationId")).toBe(true);
    expect(byField.has("commentAttribution")).toBe(true);
  });

  it("an edit sends only what changed, never an untouched default, and a secret only when typed", () => {
    const row = {
      id: "p1",
      name: "Widgets",
      provider: "github",
      apiBaseUrl: "https://api.github.com",
      repository: "acme/widgets",
      installationId: null,
      syncDirection: "bidirectional",
      master: "tracker",
      deletionPolicy: "orphan",
      commentAttribution: false,
      gitlabInternalNotes: false,
      prAutomation: null,
      fieldMaps: null,
      labelPolicy: null,
      milestonePolicy: null,
      scope: null,
      fieldDirections: null,
    } as unknown as ProjectRow;
    const saved = valuesOfProject(row);
    expect(formToUpdateBody({ ...saved, token: "" }, row)).toEqual({});
    expect(formToUpdateBody({ ...saved, "scope.labelsAny": "x", token: "new" }, row)).toEqual({ scope: { labelsAny: ["x"], onLeave: "freeze" }, token: "new" });
    expect(formToUpdateBody({ ...saved, repository: "acme/other", apiBaseUrl: "" }, row)).toEqual({ repository: "acme/other" });
  });
});
