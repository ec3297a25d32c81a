/**
 * Pull requests (GitLab: merge requests) in the fakes, as each tracker documents them:
 * - GitHub: a PR is also an item of the issue list (shared numbers); `pull_request` and `push`
 *   webhook payloads are @octokit/webhooks-examples' real ones with our values; GraphQL
 *   `PullRequest.closingIssuesReferences` lists the issues closing keywords name on a PR into the
 *   default branch plus sidebar links ("Linking a pull request to an issue"); merging into the
 *   default branch closes those issues itself.
 * - GitLab: merge requests have their own iids; the Merge Request Hook payload is the docs' shape
 *   (test/fixtures/webhooks/gitlab/merge-request-hook.json); `GET …/merge_requests/:iid/closes_issues`
 *   answers the issues the description's closing pattern names, empty when the project has
 *   "auto-close referenced issues" off; a merge into the default branch closes them.
 * - Gitea: PRs share the issue numbers; the payload mirrors GitHub's (modules/structs/hook.go
 *   PullRequestPayload, `repository.default_branch`).
 */
import examples from "@octokit/webhooks-examples" with { type: "json" };
import type { FakeTracker, FakeWebhook } from "./fake-tracker.ts";
import { json, parseTime, type FakePull, type FakeRequest, type FakeStore } from "./fake-store.ts";

/** GitHub's documented closing keywords (any case), one per reference. */
const GITHUB_CLOSING = /(?:^|[^A-Za-z0-9_])(?:close|closes|closed|fix|fixes|fixed|resolve|resolves|resolved):?\s+#(\d+)(?![A-Za-z0-9_])/gi;
/** GitLab's default issue_closing_pattern, reduced to `#N` references (lists included). */
const GITLAB_CLOSING =
  /\b(?:[Cc]los(?:e[sd]?|ing)|[Ff]ix(?:e[sd]|ing)?|[Rr]esolv(?:e[sd]?|ing)|[Ii]mplement(?:s|ed|ing)?):? +((?:(?:issues? +)?#\d+(?: *,? +and +| *,? *)?)+)/g;

function closingNumbers(store: FakeStore, text: string): number[] {
  const found = new Set<number>();
  if (store.provider === "gitlab") {
    for (const m of text.matchAll(GITLAB_CLOSING)) for (const n of m[1]!.matchAll(/#(\d+)/g)) found.add(Number(n[1]));
  } else {
    for (const m of text.matchAll(GITHUB_CLOSING)) found.add(Number(m[1]));
  }
  return [...found];
}

/** The issues the tracker itself would close when the PR merges. */
export function trackerClosingIssues(store: FakeStore, pull: FakePull): number[] {
  const intoDefault = pull.baseRef === store.defaultBranch;
  const fromText = intoDefault && store.autocloseReferencedIssues ? closingNumbers(store, `${pull.title}\n${pull.body}`) : [];
  return [...new Set([...fromText, ...pull.linkedIssues])].filter((n) => store.issues.get(n)?.kind === "issue");
}

export interface PullSeed {
  title: string;
  body?: string;
  head: string;
  base?: string;
  draft?: boolean;
  author?: string;
}

export function openPull(fake: FakeTracker, seed: PullSeed): FakePull {
  const store = fake.store;
  const at = store.tick();
  // GitHub and Gitea number PRs with issues (the PR is an item of the issue list); GitLab apart.
  const number =
    store.provider === "gitlab"
      ? Math.max(0, ...store.pulls.keys()) + 1
      : store.seedIssue({ kind: "pull_request", title: seed.title, body: seed.body ?? "", author: seed.author ?? "octocat" }).number;
  const pull: FakePull = {
    id: 7_000_000 + number,
    number,
    title: seed.title,
    body: seed.body ?? "",
    state: "open",
    draft: seed.draft ?? false,
    merged: false,
    headRef: seed.head,
    baseRef: seed.base ?? store.defaultBranch,
    author: seed.author ?? "octocat",
    createdAt: at,
    updatedAt: at,
    closedAt: null,
    mergedAt: null,
    linkedIssues: [],
  };
  store.pulls.set(number, pull);
  return pull;
}

/** GitHub and Gitea list the PR as an issue item too: its title, body, state and time follow the PR. */
function syncItem(store: FakeStore, pull: FakePull): void {
  const item = store.issues.get(pull.number);
  if (store.provider === "gitlab" || item?.kind !== "pull_request") return;
  item.title = pull.title;
  item.body = pull.body;
  item.state = pull.state;
  item.updatedAt = pull.updatedAt;
  item.closedAt = pull.closedAt;
}

function requirePull(store: FakeStore, number: number): FakePull {
  const pull = store.pulls.get(number);
  if (!pull) throw new Error(`no pull request #${number}`);
  return pull;
}

export function editPull(fake: FakeTracker, number: number, edit: Partial<Pick<FakePull, "title" | "body" | "draft" | "baseRef">>): FakePull {
  const pull = requirePull(fake.store, number);
  Object.assign(pull, edit);
  pull.updatedAt = fake.store.tick();
  syncItem(fake.store, pull);
  return pull;
}

/** Closes without merging. */
export function closePull(fake: FakeTracker, number: number): FakePull {
  const pull = requirePull(fake.store, number);
  pull.state = "closed";
  pull.updatedAt = pull.closedAt = fake.store.tick();
  syncItem(fake.store, pull);
  return pull;
}

/**
 * Merges; GitHub and GitLab then close the issues the PR closes when it went into the default
 * branch (returned). Gitea's fake closes nothing itself.
 */
export function mergePull(fake: FakeTracker, number: number): { pull: FakePull; closedIssues: number[] } {
  const store = fake.store;
  const pull = requirePull(store, number);
  const closes = store.provider === "gitea" ? [] : trackerClosingIssues(store, pull);
  pull.state = "closed";
  pull.merged = true;
  pull.updatedAt = pull.closedAt = pull.mergedAt = store.tick();
  syncItem(store, pull);
  const closedIssues = closes.filter((n) => store.issues.get(n)?.state === "open");
  for (const n of closedIssues) store.edit(n, { state: "closed" });
  return { pull, closedIssues };
}

const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString().replace(/\.\d{3}Z$/, "Z"));
const gitlabTime = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString().replace("T", " ").replace(/\.\d{3}Z$/, " UTC"));

function webBase(fake: FakeTracker): string {
  const url = new URL(fake.baseUrl);
  return fake.provider === "github" ? "https://github.com" : url.origin;
}

const githubExample = (name: string, pick: (p: Record<string, any>) => boolean) =>
  structuredClone(((examples.find((d) => d.name === name)?.examples ?? []) as Record<string, any>[]).find(pick)!);

/** A `pull_request` (GitHub, Gitea) / Merge Request Hook (GitLab) delivery for the PR as it is now. */
export async function pullWebhook(fake: FakeTracker, action: string, number: number, deliveryId?: string): Promise<FakeWebhook> {
  const store = fake.store;
  const pull = requirePull(store, number);
  const web = `${webBase(fake)}/${store.repository}`;
  if (fake.provider === "gitlab") {
    const payload = {
      object_kind: "merge_request",
      event_type: "merge_request",
      user: { id: 1, name: "Administrator", username: pull.author, avatar_url: "", email: "[REDACTED]" },
      project: {
        id: store.repositoryId,
        name: store.repository.split("/").pop(),
        web_url: web,
        namespace: store.repository.split("/")[0],
        path_with_namespace: store.repository,
        default_branch: store.defaultBranch,
      },
      object_attributes: {
        id: pull.id,
        iid: pull.number,
        target_branch: pull.baseRef,
        source_branch: pull.headRef,
        source_project_id: store.repositoryId,
        target_project_id: store.repositoryId,
        author_id: 1,
        title: pull.title,
        description: pull.body,
        created_at: gitlabTime(pull.createdAt),
        updated_at: gitlabTime(pull.updatedAt),
        closed_at: pull.merged ? null : gitlabTime(pull.closedAt),
        state: pull.merged ? "merged" : pull.state === "closed" ? "closed" : "opened",
        url: `${web}/-/merge_requests/${pull.number}`,
        draft: pull.draft,
        work_in_progress: pull.draft,
        action,
      },
      labels: [],
      changes: {},
    };
    return fake.signedWebhook("Merge Request Hook", payload, deliveryId);
  }
  const payload = githubExample("pull_request", (p) => p.action === "opened");
  payload.action = action;
  payload.number = pull.number;
  Object.assign(payload.pull_request, {
    id: pull.id,
    number: pull.number,
    title: pull.title,
    body: pull.body,
    state: pull.state,
    draft: pull.draft,
    merged: pull.merged,
    html_url: `${web}/${fake.provider === "gitea" ? "pulls" : "pull"}/${pull.number}`,
    created_at: iso(pull.createdAt),
    updated_at: iso(pull.updatedAt),
    closed_at: iso(pull.closedAt),
    merged_at: iso(pull.mergedAt),
    user: { ...payload.pull_request.user, login: pull.author },
    head: { ...payload.pull_request.head, ref: pull.headRef },
    base: { ...payload.pull_request.base, ref: pull.baseRef },
  });
  payload.repository = { ...payload.repository, id: store.repositoryId, full_name: store.repository, default_branch: store.defaultBranch };
  return fake.signedWebhook("pull_request", payload, deliveryId);
}

export interface PushedCommit {
  sha: string;
  message: string;
}

/**
 * A push delivery; on GitHub and GitLab a closing keyword in a commit pushed to the default branch
 * closes the issue (the tracker's own rule), which this applies to the store too.
 */
export async function pushWebhook(fake: FakeTracker, branch: string, commits: PushedCommit[], deliveryId?: string): Promise<FakeWebhook> {
  const store = fake.store;
  const web = `${webBase(fake)}/${store.repository}`;
  if (branch === store.defaultBranch && fake.provider !== "gitea") {
    for (const c of commits) for (const n of closingNumbers(store, c.message)) if (store.issues.get(n)?.state === "open") store.edit(n, { state: "closed" });
  }
  const commitUrl = (sha: string) => (fake.provider === "gitlab" ? `${web}/-/commit/${sha}` : `${web}/commit/${sha}`);
  if (fake.provider === "gitlab") {
    return fake.signedWebhook("Push Hook", {
      object_kind: "push",
      event_name: "push",
      before: "0".repeat(40),
      after: commits.at(-1)?.sha ?? "0".repeat(40),
      ref: `refs/heads/${branch}`,
      user_username: "root",
      project_id: store.repositoryId,
      project: { id: store.repositoryId, path_with_namespace: store.repository, web_url: web, default_branch: store.defaultBranch },
      commits: commits.map((c) => ({ id: c.sha, message: c.message, title: c.message.split("\n")[0], url: commitUrl(c.sha), timestamp: iso(store.tick()) })),
      total_commits_count: commits.length,
    }, deliveryId);
  }
  const payload = githubExample("push", (p) => Array.isArray(p.commits) && p.commits.length > 0);
  payload.ref = `refs/heads/${branch}`;
  payload.commits = commits.map((c) => ({ ...payload.commits[0], id: c.sha, tree_id: c.sha, message: c.message, url: commitUrl(c.sha) }));
  payload.head_commit = payload.commits.at(-1) ?? null;
  payload.repository = { ...payload.repository, id: store.repositoryId, full_name: store.repository, default_branch: store.defaultBranch };
  return fake.signedWebhook("push", payload, deliveryId);
}

/** GitHub GraphQL: only the closingIssuesReferences query the adapter sends. */
export async function githubGraphql(store: FakeStore, req: FakeRequest): Promise<Response> {
  const body = (await req.request.clone().json()) as { query?: string; variables?: { owner?: string; name?: string; number?: number } };
  if (!body.query?.includes("closingIssuesReferences")) return json(200, { errors: [{ message: "unsupported query in the fake" }] });
  const { owner, name, number } = body.variables ?? {};
  if (`${owner}/${name}`.toLowerCase() !== store.repository.toLowerCase()) {
    return json(200, { data: { repository: null }, errors: [{ type: "NOT_FOUND", message: `Could not resolve to a Repository with the name '${owner}/${name}'.` }] });
  }
  // Aliased fields (`pr12:pullRequest(number:12){…}`): GraphQL answers each alias under its name; one
  // that does not resolve is null, with a NOT_FOUND error naming its path, and the rest still answered
  // (https://docs.github.com/en/graphql/guides/forming-calls-with-graphql, spec "Field Alias" and "Errors").
  const aliased = [...body.query.matchAll(/(\w+):pullRequest\(number:(\d+)\)/g)];
  if (aliased.length > 0) {
    const repository: Record<string, unknown> = {};
    const errors: unknown[] = [];
    for (const [, alias, n] of aliased) {
      const found = store.pulls.get(Number(n));
      if (!found) {
        repository[alias!] = null;
        errors.push({ type: "NOT_FOUND", path: ["repository", alias], message: `Could not resolve to a PullRequest with the number of ${n}.` });
        continue;
      }
      const nodes = trackerClosingIssues(store, found).map((i) => ({ number: i, repository: { nameWithOwner: store.repository } }));
      repository[alias!] = { closingIssuesReferences: { nodes } };
    }
    return json(200, errors.length > 0 ? { data: { repository }, errors } : { data: { repository } });
  }
  const pull = store.pulls.get(Number(number));
  if (!pull) return json(200, { data: { repository: { pullRequest: null } }, errors: [{ type: "NOT_FOUND", message: "Could not resolve to a PullRequest" }] });
  const nodes = trackerClosingIssues(store, pull).map((n) => ({ number: n, repository: { nameWithOwner: store.repository } }));
  return json(200, { data: { repository: { pullRequest: { closingIssuesReferences: { nodes } } } } });
}

/** GitLab `GET /projects/:id/merge_requests/:iid/closes_issues`. */
export function gitlabClosesIssues(store: FakeStore, req: FakeRequest, iid: number): Response {
  const pull = store.pulls.get(iid);
  if (!pull) return json(404, { message: "404 Not found" });
  const web = `${new URL(req.base).origin}/${store.repository}`;
  const issues = (store.autocloseReferencedIssues ? closingNumbers(store, `${pull.title}\n${pull.body}`) : [])
    .filter((n) => store.issues.get(n)?.kind === "issue")
    .map((n) => ({ id: store.issues.get(n)!.id, iid: n, project_id: store.repositoryId, title: store.issues.get(n)!.title, state: store.issues.get(n)!.state === "open" ? "opened" : "closed", web_url: `${web}/-/issues/${n}` }));
  return json(200, issues);
}

/**
 * GitLab `GET /projects/:id/merge_requests` (doc/api/merge_requests.md "List project merge
 * requests"): `state` (opened|closed|locked|merged|all, default all), `updated_after` "on or after"
 * (400 when unreadable), `order_by` created_at (default) or updated_at, `sort` desc (default) or asc,
 * ties by id. The items in the listing's order; fake-gitlab pages them (offset pages, headers).
 */
export function gitlabListMergeRequests(store: FakeStore, req: FakeRequest): unknown[] | Response {
  const q = req.url.searchParams;
  const after = parseTime(q.get("updated_after"));
  if (after === "invalid") return json(400, { error: "updated_after is invalid" });
  const state = q.get("state") ?? "all";
  const stateOf = (p: FakePull) => (p.merged ? "merged" : p.state === "closed" ? "closed" : "opened");
  const key = q.get("order_by") === "updated_at" ? (p: FakePull) => p.updatedAt : (p: FakePull) => p.createdAt;
  const direction = q.get("sort") === "asc" ? 1 : -1;
  const web = `${new URL(req.base).origin}/${store.repository}`;
  return [...store.pulls.values()]
    .filter((p) => (state === "all" || stateOf(p) === state) && (typeof after !== "number" || p.updatedAt >= after))
    .sort((a, b) => (key(a) - key(b) || a.id - b.id) * direction)
    .map((p) => ({
      id: p.id,
      iid: p.number,
      project_id: store.repositoryId,
      title: p.title,
      description: p.body,
      state: stateOf(p),
      draft: p.draft,
      work_in_progress: p.draft,
      source_branch: p.headRef,
      target_branch: p.baseRef,
      web_url: `${web}/-/merge_requests/${p.number}`,
      author: { id: 1, username: p.author, name: p.author, state: "active" },
      target_project_id: store.repositoryId,
      source_project_id: store.repositoryId,
      labels: [],
      assignees: [],
      reviewers: [],
      merged_by: p.merged ? { id: 1, username: p.author } : null,
      closed_by: p.state === "closed" && !p.merged ? { id: 1, username: p.author } : null,
      merge_status: "can_be_merged",
      detailed_merge_status: p.merged ? "not_open" : "mergeable",
      sha: p.id.toString(16).padStart(40, "0"),
      references: { short: `!${p.number}`, relative: `!${p.number}`, full: `${store.repository}!${p.number}` },
      user_notes_count: 0,
      created_at: new Date(p.createdAt).toISOString(),
      updated_at: new Date(p.updatedAt).toISOString(),
      merged_at: p.mergedAt === null ? null : new Date(p.mergedAt).toISOString(),
      closed_at: p.merged || p.closedAt === null ? null : new Date(p.closedAt).toISOString(),
    }));
}

/**
 * Gitea `GET /repos/{o}/{r}/pulls` (routers/api/v1/repo/pull.go ListPullRequests): `state`
 * open (default) | closed | all, `sort` recentupdate = newest change first; no `since`. The items
 * in the listing's order; fake-gitea pages them (`page`/`limit`, `Link`, `X-Total-Count`).
 */
export function giteaListPulls(store: FakeStore, req: FakeRequest): unknown[] {
  const q = req.url.searchParams;
  const state = q.get("state") ?? "open";
  const web = `${new URL(req.base).origin}/${store.repository}`;
  const items = [...store.pulls.values()]
    .filter((p) => state === "all" || p.state === state)
    .sort((a, b) => (q.get("sort") === "recentupdate" ? b.updatedAt - a.updatedAt || b.id - a.id : a.id - b.id))
    .map((p) => ({
      id: p.id,
      number: p.number,
      title: p.title,
      body: p.body,
      state: p.state,
      draft: p.draft,
      merged: p.merged,
      merged_at: iso(p.mergedAt),
      closed_at: iso(p.closedAt),
      created_at: iso(p.createdAt),
      updated_at: iso(p.updatedAt),
      html_url: `${web}/pulls/${p.number}`,
      user: { id: 1, login: p.author },
      head: { ref: p.headRef, label: p.headRef },
      base: { ref: p.baseRef, label: p.baseRef, repo: { id: store.repositoryId, full_name: store.repository, default_branch: store.defaultBranch } },
    }));
  return items;
}
