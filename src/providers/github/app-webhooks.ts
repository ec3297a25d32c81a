/**
 * What a GitHub App delivery says about routing: every delivery for an installed repository carries
 * `installation.id` and `repository` (`id`, `full_name`); `installation` events (created, deleted,
 * suspend, unsuspend, new_permissions_accepted) and `installation_repositories` events (added,
 * removed) carry the installation and the repositories they concern, but no `repository`.
 * https://docs.github.com/en/webhooks/webhook-events-and-payloads#installation
 */
import { z } from "zod";

export interface AppRepositoryRef {
  /** GitHub's numeric repository id, as a string: it survives renames and transfers. */
  repositoryId: string;
  fullName: string;
}

export type AppDelivery =
  | { kind: "installation"; action: string; installationId: number; repositories: AppRepositoryRef[] }
  | { kind: "installation_repositories"; action: string; installationId: number; added: AppRepositoryRef[]; removed: AppRepositoryRef[] }
  /** Any other event of an installed repository (issues, issue_comment, repository…): routed by id. */
  | { kind: "repository"; installationId: number | null; repository: AppRepositoryRef }
  /** Nothing to route (e.g. an App-level event without a repository). */
  | { kind: "other" }
  /** The body does not have the shape its (unsigned) event name says: refused, nothing applied. */
  | { kind: "refused"; problem: string };

const repositoryRef = z.object({ id: z.number(), full_name: z.string().min(1) });
const installationRef = z.object({ id: z.number() });
/** An installation as `installation*` events carry it: the whole object, with its account. */
const fullInstallation = z.object({ id: z.number().int().positive(), account: z.object({ login: z.string() }).passthrough() });

const installationEvent = z.object({
  action: z.enum(["created", "deleted", "suspend", "unsuspend", "new_permissions_accepted"]),
  installation: fullInstallation,
  repositories: z.array(repositoryRef).nullish(),
});

const installationRepositoriesEvent = z.object({
  action: z.enum(["added", "removed"]),
  installation: fullInstallation,
  repository_selection: z.string(),
  // GitHub sends both lists on every installation_repositories event (one of them empty).
  repositories_added: z.array(repositoryRef),
  repositories_removed: z.array(repositoryRef),
});

/** Keys only repository events carry: an `installation*` body holding one is another event's body. */
const REPOSITORY_EVENT_KEYS = ["repository", "issue", "comment", "pull_request", "changes"] as const;
/** Keys only `installation*` events carry. */
const INSTALLATION_EVENT_KEYS = ["repositories", "repositories_added", "repositories_removed", "requester"] as const;

/**
 * GitHub signs the body only; `X-GitHub-Event` is an unsigned header. Each App event's body must
 * have its own shape, so a signed `issue_comment` body (`"action":"deleted"`) re-sent as
 * `installation` cannot pass for an uninstall. Null when it fits, else what does not.
 * https://docs.github.com/en/webhooks/webhook-events-and-payloads#installation
 */
export function appDeliveryShapeProblem(event: string, payload: unknown): string | null {
  if (payload === null || typeof payload !== "object" || Array.isArray(payload)) return "the body is not a JSON object";
  const body = payload as Record<string, unknown>;
  const present = (keys: readonly string[]) => keys.filter((k) => body[k] !== undefined && body[k] !== null);
  if (event === "installation" || event === "installation_repositories") {
    const foreign = present(REPOSITORY_EVENT_KEYS);
    if (foreign.length > 0) return `an ${event} delivery carries ${foreign.join(", ")}: it is a repository event's body`;
    if (event === "installation" && present(["repositories_added", "repositories_removed"]).length > 0) {
      return "an installation delivery carries repositories_added/removed: it is an installation_repositories body";
    }
    const parsed = (event === "installation" ? installationEvent : installationRepositoriesEvent).safeParse(body);
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      return `an ${event} delivery without a valid ${issue?.path.join(".") || "body"}`;
    }
    return null;
  }
  const foreign = present(INSTALLATION_EVENT_KEYS);
  if (foreign.length > 0) return `a ${event || "(no event)"} delivery carries ${foreign.join(", ")}: it is an installation event's body`;
  return null;
}

const repositoryEvent = z.object({
  installation: installationRef.nullish(),
  repository: repositoryRef,
});

const ref = (r: z.infer<typeof repositoryRef>): AppRepositoryRef => ({ repositoryId: String(r.id), fullName: r.full_name });

/** Reads the routing facts of a verified App delivery; a payload that lacks them is `other`. */
export function parseAppDelivery(event: string, payload: unknown): AppDelivery {
  const problem = appDeliveryShapeProblem(event, payload);
  if (problem) return { kind: "refused", problem };
  if (event === "installation") {
    const parsed = installationEvent.safeParse(payload);
    if (!parsed.success) return { kind: "other" };
    const { action, installation, repositories } = parsed.data;
    return { kind: "installation", action, installationId: installation.id, repositories: (repositories ?? []).map(ref) };
  }
  if (event === "installation_repositories") {
    const parsed = installationRepositoriesEvent.safeParse(payload);
    if (!parsed.success) return { kind: "other" };
    const { action, installation, repositories_added, repositories_removed } = parsed.data;
    return {
      kind: "installation_repositories",
      action,
      installationId: installation.id,
      added: (repositories_added ?? []).map(ref),
      removed: (repositories_removed ?? []).map(ref),
    };
  }
  const parsed = repositoryEvent.safeParse(payload);
  if (!parsed.success) return { kind: "other" };
  return { kind: "repository", installationId: parsed.data.installation?.id ?? null, repository: ref(parsed.data.repository) };
}
