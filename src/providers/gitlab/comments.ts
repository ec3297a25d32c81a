/**
 * GitLab notes on issues. There is no project-wide listing: the notes of each issue are read from
 * `GET /projects/:id/issues/:iid/notes` (a new or edited note touches its issue's `updated_at`, so
 * the issues an incremental run lists are the ones whose notes can have changed). `system: true`
 * notes are events ("changed the description"), not comments: skipped. `internal: true` (older:
 * `confidential`) notes are internal. Notes are written with POST, edited with PUT.
 */
import { z } from "zod";
import { canonicalText } from "../canonical";
import { nextPageUrl, type TrackerHttp } from "../http";
import { toUtcIso } from "../timestamps";
import { webUrl } from "../canonical";
import { announceHead, serverTimeOf } from "../issue-responses";
import { TrackerError, type CanonicalComment, type CommentPage, type ListPageRequest } from "../types";

export const gitlabNote = z.object({
  id: z.number(),
  body: z.string().nullish(),
  author: z.object({ username: z.string() }).nullish(),
  created_at: z.string(),
  updated_at: z.string(),
  system: z.boolean().nullish(),
  internal: z.boolean().nullish(),
  confidential: z.boolean().nullish(),
  noteable_type: z.string().nullish(),
});
type GitLabNote = z.infer<typeof gitlabNote>;

export function noteToCanonical(n: GitLabNote, issueNumber: number, url: string): CanonicalComment {
  return {
    externalId: String(n.id),
    issueNumber,
    url: webUrl(url),
    body: unescapeQuickActions(canonicalText(n.body ?? "")),
    author: n.author?.username ?? "",
    internal: n.internal === true || n.confidential === true,
    createdAt: toUtcIso(n.created_at),
    updatedAt: toUtcIso(n.updated_at),
  };
}

function parseNote(body: unknown): GitLabNote {
  const r = gitlabNote.safeParse(body);
  if (!r.success) {
    const field = r.error.issues[0]?.path.map(String).join(".") ?? "";
    throw new TrackerError(`gitlab answered a note without a valid ${field || "body"}`, null, false);
  }
  return r.data;
}

export class GitLabNotes {
  constructor(
    private readonly http: TrackerHttp,
    private readonly projectPath: string,
    private readonly pageSize: number,
    private readonly currentUsername: () => Promise<string>,
  ) {}

  private notesPath(issueNumber: number): string {
    return `${this.projectPath}/issues/${issueNumber}/notes`;
  }

  /**
   * One page of the issue's notes for the one listing loop (sync/listing-loop.ts), which follows the
   * pages. Created order: a note edited while the pages are read does not move between them (only a
   * deleted one shifts the offsets; the run asks for each note it did not see). Null: the issue is gone.
   */
  async listPage(issueNumber: number, request: ListPageRequest): Promise<CommentPage | null> {
    const url = request.url ?? this.http.url(this.notesPath(issueNumber), { order_by: "created_at", sort: "asc", per_page: this.pageSize });
    const res = await this.http.request("GET", url, { accept: [404] });
    if (res.status === 404) return null;
    if (!Array.isArray(res.body)) throw new TrackerError("gitlab note list is not a list", res.status, false);
    const nextUrl = nextPageUrl(url, res.headers, res.body.length);
    announceHead(request, res.body, res.headers, { nextUrl });
    const notes: CanonicalComment[] = [];
    for (const item of res.body) {
      const n = parseNote(item);
      if (n.system) continue;
      notes.push(noteToCanonical(n, issueNumber, ""));
    }
    const last: unknown = res.body.at(-1);
    return {
      comments: notes,
      nextUrl,
      etag: null,
      notModified: false,
      serverTime: serverTimeOf(res.headers),
      lastUpdatedAt: last === undefined ? null : toUtcIso(parseNote(last).updated_at),
      rawCount: res.body.length,
    };
  }

  async get(issueNumber: number, externalId: string): Promise<CanonicalComment | null> {
    const res = await this.http.request("GET", this.http.url(`${this.notesPath(issueNumber)}/${encodeURIComponent(externalId)}`), { accept: [404] });
    if (res.status === 404) return null;
    return noteToCanonical(parseNote(res.body), issueNumber, "");
  }

  /** `internal`: GitLab's `internal` attribute of POST …/notes (an internal note, visible to members only). */
  async create(issueNumber: number, body: string, internal = false): Promise<CanonicalComment> {
    const res = await this.http.request("POST", this.http.url(this.notesPath(issueNumber)), { json: internal ? { body: escapeQuickActions(body), internal: true } : { body: escapeQuickActions(body) } });
    return noteToCanonical(parseNote(res.body), issueNumber, "");
  }

  async edit(issueNumber: number, externalId: string, body: string): Promise<CanonicalComment> {
    const res = await this.http.request("PUT", this.http.url(`${this.notesPath(issueNumber)}/${encodeURIComponent(externalId)}`), { json: { body: escapeQuickActions(body) } });
    return noteToCanonical(parseNote(res.body), issueNumber, "");
  }

  async remove(issueNumber: number, externalId: string): Promise<"deleted" | "gone"> {
    const res = await this.http.request("DELETE", this.http.url(`${this.notesPath(issueNumber)}/${encodeURIComponent(externalId)}`), { accept: [404] });
    return res.status === 404 ? "gone" : "deleted";
  }

  async findOwn(issueNumber: number, since: string): Promise<CanonicalComment[]> {
    const me = await this.currentUsername();
    const floor = toUtcIso(since);
    // A helper listing (http.ts getAllPages): the note walk itself goes through the listing loop.
    let raw: unknown[];
    try {
      raw = await this.http.getAllPages(this.http.url(this.notesPath(issueNumber), { order_by: "created_at", sort: "asc", per_page: this.pageSize }));
    } catch (err) {
      if (err instanceof TrackerError && err.status === 404) return [];
      throw err;
    }
    return raw
      .map(parseNote)
      .filter((n) => !n.system)
      .map((n) => noteToCanonical(n, issueNumber, ""))
      .filter((n) => n.author === me && n.createdAt >= floor);
  }
}

/**
 * GitLab executes and removes every line of a note that starts with a quick action (`/spend 1h`,
 * `/label ~x`, `/move group/other`; lib/gitlab/quick_actions/extractor.rb), except inside code
 * blocks. A comment must never run a command: outside fenced code, a line starting with `/` is sent
 * as `\/` (a Markdown escape, shown as `/`, which the extractor's line-start regex does not match),
 * and the escape is removed again on the way in.
 */
export function escapeQuickActions(body: string): string {
  return mapOutsideFences(body, (line) => (line.startsWith("/") ? `\\${line}` : line));
}

export function unescapeQuickActions(body: string): string {
  return mapOutsideFences(body, (line) => (line.startsWith("\\/") ? line.slice(1) : line));
}

function mapOutsideFences(body: string, map: (line: string) => string): string {
  let fence: string | null = null;
  return body
    .split("\n")
    .map((line) => {
      const marker = /^ {0,3}(`{3,}|~{3,})/.exec(line)?.[1];
      if (marker && (fence === null || marker.startsWith(fence))) {
        fence = fence === null ? marker : null;
        return line;
      }
      return fence === null ? map(line) : line;
    })
    .join("\n");
}
