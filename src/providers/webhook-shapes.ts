/**
 * Does a delivery's body fit its event name? GitHub and Gitea sign only the body; the event name
 * is an unsigned header. A signed `issue_comment` body (action `deleted`) re-sent as `issues` once
 * orphaned or deleted the issue (issue 17). Each event's body has a shape of its own: the key that
 * only it carries (GitHub/Gitea) or its `object_kind` (GitLab). A body of another event's shape
 * is refused.
 */
type Body = Record<string, unknown>;

const has = (body: Body, key: string) => body[key] !== undefined && body[key] !== null;

/** GitHub and Gitea (Gitea's finer `X-Gitea-Event-Type` names included). */
function githubStyleProblem(event: string, body: Body): string | null {
  const issueEvent = event === "issues" || /^issue_(assign|label|milestone)/.test(event);
  if (issueEvent) {
    // A missing `issue` is left to the event's own parser, which names the field.
    return has(body, "comment") ? `an ${event} delivery carries a comment: it is a comment event's body` : null;
  }
  if (event.startsWith("pull_request") && !event.includes("comment") && !event.includes("review")) {
    if (!has(body, "pull_request")) return `a ${event} delivery carries no pull_request`;
    if (has(body, "comment")) return `a ${event} delivery carries a comment`;
  }
  if (event === "push" && (has(body, "issue") || has(body, "pull_request") || has(body, "comment"))) {
    return "a push delivery carries an issue, pull request or comment";
  }
  return null;
}

/** GitLab's event header and the body's `object_kind`. */
const GITLAB_KINDS: Readonly<Record<string, readonly string[]>> = {
  "Issue Hook": ["issue", "work_item"],
  "Confidential Issue Hook": ["issue", "work_item"],
  "Note Hook": ["note"],
  "Confidential Note Hook": ["note"],
  "Merge Request Hook": ["merge_request"],
  "Push Hook": ["push"],
  "Tag Push Hook": ["tag_push"],
};

function gitlabProblem(event: string, body: Body): string | null {
  const kinds = GITLAB_KINDS[event];
  const kind = body.object_kind;
  if (!kinds || typeof kind !== "string") return null;
  return kinds.includes(kind) ? null : `a ${event} delivery carries object_kind ${JSON.stringify(kind.slice(0, 40))}`;
}

function asBody(payload: unknown): Body | null {
  return payload !== null && typeof payload === "object" && !Array.isArray(payload) ? (payload as Body) : null;
}

/** GitHub and Gitea: null when the body has the shape its event name says, else what does not fit. */
export function githubStyleShapeProblem(event: string, payload: unknown): string | null {
  const body = asBody(payload);
  return body ? githubStyleProblem(event, body) : null;
}

/** GitLab: null when `object_kind` fits the event header, else what does not fit. */
export function gitlabShapeProblem(event: string, payload: unknown): string | null {
  const body = asBody(payload);
  return body ? gitlabProblem(event, body) : null;
}
