/**
 * People, values and scope: the zod schemas of the per-project settings (shared by create, update
 * and the OpenAPI document) and the rules that span fields, each error naming its field.
 */
import { z } from "@hono/zod-openapi";
import type { FieldError } from "../errors";
import { narrows } from "../sync/field-directions";
import { DIRECTED_FIELDS, type FieldMaps, type ProjectSettings } from "../sync/project-settings";
import { scopeMatchesNothing } from "../sync/scope";

const Value = z.string().trim().min(1).max(255);
const FieldDirection = z.enum(["both", "inbound", "outbound", "none"]);

const LabelMapEntry = z.strictObject({
  local: Value,
  tracker: z.array(Value).min(1).max(50).openapi({ description: "Tracker labels meaning `local`; the first is written to the tracker" }),
});
const MilestoneMapEntry = z.strictObject({
  local: Value,
  tracker: z
    .union([Value, z.array(Value).min(1).max(50)])
    .transform((v) => (typeof v === "string" ? [v] : v))
    .openapi({ description: "Tracker milestone title(s) meaning `local`; the first is written to the tracker" }),
});

export const SettingsFields = {
  fieldMaps: z
    .strictObject({ labels: z.array(LabelMapEntry).max(500).optional(), milestone: z.array(MilestoneMapEntry).max(500).optional() })
    .openapi("FieldMaps", { description: "Inbound any listed tracker value becomes `local`; outbound `local` is written as the first" }),
  labelPolicy: z
    .strictObject({ createMissing: z.enum(["always", "mapped_only", "never"]) })
    .openapi("LabelPolicy", { description: "Which labels the sync may create on the tracker; one it may not is a syncWarnings entry" }),
  milestonePolicy: z
    .strictObject({ createMissing: z.boolean() })
    .openapi("MilestonePolicy", { description: "Create a milestone the tracker lacks (false: a syncWarnings entry, the rest of the push goes through)" }),
  scope: z
    .strictObject({
      labelsAny: z.array(Value).max(100).optional(),
      labelsNone: z.array(Value).max(100).optional(),
      state: z.enum(["open", "all"]).optional(),
      createdSince: z.iso.datetime().optional().openapi({ description: "Only issues created at or after this instant (ISO UTC)" }),
      onLeave: z
        .enum(["freeze", "unlink"])
        .default("freeze")
        .openapi({ description: "freeze: the link is kept and nothing is synced until the issue is back in scope; unlink: the link is dropped and both issues stay as they are (never closed or deleted)" }),
    })
    .nullable()
    .openapi("SyncScope", { description: "Only issues in scope are imported or pushed; leaving scope never closes or deletes anything (null: every issue)" }),
  fieldDirections: z
    .strictObject(Object.fromEntries(DIRECTED_FIELDS.map((f) => [f, FieldDirection.optional()])) as Record<(typeof DIRECTED_FIELDS)[number], z.ZodOptional<typeof FieldDirection>>)
    .openapi("FieldDirections", { description: "Per field: both | inbound | outbound | none; unset fields follow syncDirection, which a field may not widen" }),
};

export const SettingsSchemaFields = {
  fieldMaps: z.object({
    labels: z.array(z.object({ local: z.string(), tracker: z.array(z.string()) })),
    milestone: z.array(z.object({ local: z.string(), tracker: z.array(z.string()) })),
  }),
  labelPolicy: z.object({ createMissing: z.enum(["always", "mapped_only", "never"]) }),
  milestonePolicy: z.object({ createMissing: z.boolean() }),
  scope: z
    .object({ labelsAny: z.array(z.string()).optional(), labelsNone: z.array(z.string()).optional(), state: z.enum(["open", "all"]).optional(), createdSince: z.string().optional(), onLeave: z.enum(["freeze", "unlink"]) })
    .nullable(),
  fieldDirections: z.record(z.string(), FieldDirection),
  warnings: z
    .array(z.object({ field: z.string(), message: z.string() }))
    .optional()
    .openapi({ description: "Settings accepted but worth a look (e.g. a scope no issue can match)" }),
};

export const DryRunSchema = z
  .object({
    dryRun: z.literal(true),
    wouldCreate: z.number().int().openapi({ description: "Tracker issues in scope that would be imported" }),
    wouldUpdate: z.number().int().openapi({ description: "Linked issues whose local fields would change or that would be pushed" }),
    wouldLeaveScope: z.number().int().openapi({ description: "Linked issues that would leave scope (frozen or, under onLeave unlink, unlinked: nothing closed or deleted)" }),
    wouldCreateLabels: z.number().int().openapi({ description: "Tracker labels a push would create (labelPolicy allowing)" }),
    labelsToCreate: z.array(z.string()),
    wouldOrphan: z.number().int().openapi({ description: "Linked issues missing from the listing (a real run reads each before orphaning it)" }),
    samples: z
      .array(
        z.object({
          issueId: z.string().nullable(),
          externalNumber: z.number().int().nullable(),
          action: z.enum(["create", "update", "leave_scope", "orphan"]),
          changes: z.record(z.string(), z.object({ before: z.unknown(), after: z.unknown() })).nullable(),
          push: z.array(z.string()).openapi({ description: "Fields that would be sent to the tracker" }),
        }),
      )
      .openapi({ description: "The first 50 per-issue diffs" }),
    complete: z.boolean().openapi({ description: "False when the tracker listing was cut short (very large repositories): counts cover the pages read" }),
    pagesRead: z.number().int(),
    warnings: z
      .array(z.object({ field: z.string(), message: z.string() }))
      .optional()
      .openapi({ description: "What saving these settings would warn about (e.g. a scope no issue can match)" }),
  })
  .openapi("DryRun");

/** Fields a dry run cannot evaluate: they point the project at another tracker or credential. */
export const NOT_DRY_RUNNABLE = ["provider", "apiBaseUrl", "repository", "token", "webhookSecret", "installationId"] as const;

type SettingsInput = {
  fieldMaps?: { labels?: { local: string; tracker: string[] }[] | undefined; milestone?: { local: string; tracker: string[] }[] | undefined } | undefined;
  labelPolicy?: ProjectSettings["labelPolicy"] | undefined;
  milestonePolicy?: ProjectSettings["milestonePolicy"] | undefined;
  scope?: ProjectSettings["scope"] | undefined;
  fieldDirections?: ProjectSettings["fieldDirections"] | undefined;
};

/** The settings patch of a create or update body (only the settings given). */
export function settingsPatch(input: SettingsInput): Partial<ProjectSettings> {
  const out: Partial<ProjectSettings> = {};
  if (input.fieldMaps !== undefined) out.fieldMaps = { labels: input.fieldMaps.labels ?? [], milestone: input.fieldMaps.milestone ?? [] };
  if (input.labelPolicy !== undefined) out.labelPolicy = input.labelPolicy;
  if (input.milestonePolicy !== undefined) out.milestonePolicy = input.milestonePolicy;
  if (input.scope !== undefined) out.scope = input.scope;
  if (input.fieldDirections !== undefined) {
    out.fieldDirections = Object.fromEntries(Object.entries(input.fieldDirections).filter(([, v]) => v !== undefined));
  }
  return out;
}

/** A value mapped twice (the same tracker value, or the same local value, in two entries) is ambiguous: 400. */
function mapErrors(maps: FieldMaps): FieldError[] {
  const errors: FieldError[] = [];
  for (const kind of ["labels", "milestone"] as const) {
    const locals = new Map<string, number>();
    const trackers = new Map<string, number>();
    maps[kind].forEach((entry, i) => {
      const seenLocal = locals.get(entry.local);
      if (seenLocal !== undefined) errors.push({ field: `fieldMaps.${kind}.${i}.local`, message: `"${entry.local}" is already mapped by fieldMaps.${kind}.${seenLocal}` });
      else locals.set(entry.local, i);
      entry.tracker.forEach((value, j) => {
        const seen = trackers.get(value);
        if (seen !== undefined) errors.push({ field: `fieldMaps.${kind}.${i}.tracker.${j}`, message: `"${value}" is already mapped by fieldMaps.${kind}.${seen}` });
        else trackers.set(value, i);
      });
    });
  }
  return errors;
}

/**
 * Checks the settings as they would be after the write. `invalid` (400): ambiguous maps;
 * `unprocessable` (422): a field direction wider than the project's; `warnings`: accepted as is.
 */
export function checkSettings(
  syncDirection: "inbound" | "outbound" | "bidirectional",
  settings: ProjectSettings,
): { invalid: FieldError[]; unprocessable: FieldError[]; warnings: FieldError[] } {
  const unprocessable: FieldError[] = [];
  for (const [field, direction] of Object.entries(settings.fieldDirections)) {
    if (direction && !narrows(syncDirection, direction)) {
      unprocessable.push({ field: `fieldDirections.${field}`, message: `"${direction}" widens the project's syncDirection "${syncDirection}"` });
    }
  }
  const why = scopeMatchesNothing(settings.scope);
  return { invalid: mapErrors(settings.fieldMaps), unprocessable, warnings: why ? [{ field: "scope", message: why }] : [] };
}
