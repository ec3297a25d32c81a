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
  | { kind: "other" };

const repositoryRef = z.object({ id: z.number(), full_name: z.string().min(1) });
const installationRef = z.object({ id: z.number() });

const installationEvent = z.object({
  action: z.string(),
  installation: installationRef,
  repositories: z.array(repositoryRef).nullish(),
});

const installationRepositoriesEvent = z.object({
  action: z.string(),
  installation: installationRef,
  repositories_added: z.array(repositoryRef).nullish(),
  repositories_removed: z.array(repositoryRef).nullish(),
});

const repositoryEvent = z.object({
  installation: installationRef.nullish(),
  repository: repositoryRef,
});

const ref = (r: z.infer<typeof repositoryRef>): AppRepositoryRef => ({ repositoryId: String(r.id), fullName: r.full_name });

/** Reads the routing facts of a verified App delivery; a payload that lacks them is `other`. */
export function parseAppDelivery(event: string, payload: unknown): AppDelivery {
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
