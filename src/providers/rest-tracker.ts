/**
 * The part of every adapter class that does not depend on the tracker: its HTTP client, the
 * request count, and the walk over `listPage`. Each tracker's class supplies the rest, and its
 * `TrackerHttpDialect`.
 */
import { TrackerHttp, type TrackerHttpDialect } from "./http";
import type {
  CanonicalComment,
  CanonicalIssue,
  CommentPage,
  IssueFields,
  IssueLookup,
  IssuePage,
  IssueState,
  ListPageRequest,
  Provider,
  RepositoryLookup,
  Tracker,
  TrackerConfig,
} from "./types";

export abstract class RestTracker implements Tracker {
  abstract readonly provider: Provider;
  abstract readonly pageSize: number;
  abstract readonly orderedByUpdate: boolean;
  protected readonly http: TrackerHttp;
  /** As configured ("owner/name", GitLab's full path or id), for error messages. */
  protected readonly repository: string;

  constructor(config: TrackerConfig, dialect: TrackerHttpDialect) {
    this.http = new TrackerHttp(config, dialect);
    this.repository = config.repository;
  }

  /** What the last repository read answered (null until one was made). */
  repositoryObserved: RepositoryLookup | null = null;

  async getRepository(): Promise<RepositoryLookup> {
    this.repositoryObserved = await this.readRepository();
    return this.repositoryObserved;
  }

  get requestCount(): number {
    return this.http.requestCount;
  }

  listIssues(request: Omit<ListPageRequest, "url"> = {}): AsyncGenerator<IssuePage> {
    return walkPages((r) => this.listPage(r), request);
  }

  abstract listPage(request: ListPageRequest): Promise<IssuePage>;
  abstract getIssue(number: number): Promise<IssueLookup>;
  abstract createIssue(fields: Omit<IssueFields, "state"> & { state?: IssueState }): Promise<CanonicalIssue>;
  abstract updateIssue(number: number, patch: Partial<IssueFields>): Promise<CanonicalIssue>;
  abstract findCreatedIssue(
    title: string,
    since: string,
    accept?: (issue: CanonicalIssue) => boolean | Promise<boolean>,
  ): Promise<CanonicalIssue | null>;
  abstract currentUser(): Promise<string>;
  abstract listLabelNames(): Promise<Set<string>>;
  abstract createMilestone(title: string): Promise<void>;
  /** GET of the repository itself; 404 is `not_found` (the token cannot see it). */
  protected abstract readRepository(): Promise<RepositoryLookup>;

  abstract readonly repositoryWideComments: boolean;
  abstract readonly maxCommentLength: number;
  abstract readonly commentsOrderedByUpdate: boolean;
  abstract listCommentsPage(request: ListPageRequest): Promise<CommentPage>;
  abstract listIssueCommentsPage(issueNumber: number, request: ListPageRequest): Promise<CommentPage | null>;
  abstract getComment(issueNumber: number, externalId: string): Promise<CanonicalComment | null>;
  abstract createComment(issueNumber: number, body: string): Promise<CanonicalComment>;
  abstract updateComment(issueNumber: number, externalId: string, body: string): Promise<CanonicalComment>;
  abstract deleteComment(issueNumber: number, externalId: string): Promise<"deleted" | "gone">;
  abstract findOwnComments(issueNumber: number, since: string): Promise<CanonicalComment[]>;
}

/** Walks every page from the first, following each page's `nextUrl` verbatim. */
async function* walkPages(
  listPage: (request: ListPageRequest) => Promise<IssuePage>,
  request: Omit<ListPageRequest, "url"> = {},
): AsyncGenerator<IssuePage> {
  let page = await listPage({ ...request, url: null });
  yield page;
  while (page.nextUrl) {
    page = await listPage({ url: page.nextUrl });
    yield page;
  }
}
