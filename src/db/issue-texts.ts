/**
 * Texts too large for a row — issue bodies and comment bodies alike, by the same code. (Comments:
 * a GitLab note may be 1,000,000 characters; a comment row holds body and base.)
 *
 * Issue texts too large for an issue row. D1 refuses a row over 2,000,000 bytes, and an issue row
 * holds its body twice (the `body` column and the base snapshot's JSON); a GitLab description may
 * be 1,048,576 characters, up to ~4 MB of UTF-8. A body or base whose JSON-escaped UTF-8 size is over
 * INLINE_TEXT_BYTES is stored in order across `issue_text_parts` rows (each under the limit), the
 * column holds "" and `body_parts` / `base_parts` counts the parts. Every read of an issue row goes
 * through `withTexts`, so nothing above db/ ever sees a split text.
 *
 * Splitting (not gzip) because it always fits: random or already-dense text does not compress
 * under the limit, and a tracker issue we cannot store would fail its step forever.
 */
import { inArray, sql, type SQL } from "drizzle-orm";
import { INLINE_TEXT_BYTES, jsonBytes, splitUtf8 } from "./bytes";
import type { Database } from "./client";
import { comments, issues, issueTextParts, type CommentRow, type IssueRow } from "./schema";

export type TextField = "body" | "base" | "comment.body" | "comment.base";

/** A text as stored: inline in its column, or split into parts (then the column holds ""). */
export interface PackedText {
  inline: string;
  parts: string[];
}

/** Largest part (raw UTF-8 bytes; parts are bound as plain parameters, not inside JSON). */
const PART_BYTES = INLINE_TEXT_BYTES;

export function packText(text: string): PackedText {
  if (jsonBytes(text) <= INLINE_TEXT_BYTES) return { inline: text, parts: [] };
  return { inline: "", parts: splitUtf8(text, PART_BYTES) };
}

/**
 * Statements replacing one field's parts of an issue (or a comment: its id, a "comment." field),
 * each run only while `guard` holds (an SQL condition on the row, e.g. its version after the
 * write), so a write that did not happen leaves the parts of the one that did.
 */
export function replacePartsStatements(projectId: string, issueId: string, field: TextField, parts: readonly string[], guard: SQL): SQL[] {
  const statements: SQL[] = [
    sql`DELETE FROM ${issueTextParts} WHERE issue_id = ${issueId} AND field = ${field} AND ${guard}`,
  ];
  parts.forEach((text, seq) => {
    statements.push(sql`
      INSERT OR REPLACE INTO ${issueTextParts} (issue_id, project_id, field, seq, text)
      SELECT ${issueId}, ${projectId}, ${field}, ${seq}, ${text} WHERE ${guard}`);
  });
  return statements;
}

/** An SQL condition: the issue is at `version`. */
export function issueAtVersion(issueId: string, version: number): SQL {
  return sql`EXISTS (SELECT 1 FROM ${issues} i WHERE i.id = ${issueId} AND i.version = ${version})`;
}

/** An SQL condition: the comment is at `version`. */
export function commentAtVersion(commentId: string, version: number): SQL {
  return sql`EXISTS (SELECT 1 FROM ${comments} c WHERE c.id = ${commentId} AND c.version = ${version})`;
}

/** A row whose `body` and `base` may be split into parts. */
interface SplitRow {
  id: string;
  body: string;
  base: string | null;
  bodyParts: number;
  baseParts: number;
}

/** The rows with their split texts joined back into `body` and `base`. */
export async function withTexts(db: Database, rows: IssueRow[]): Promise<IssueRow[]> {
  return joinTexts(db, rows, "body", "base");
}

/** Comment rows with their split texts joined back into `body` and `base`. */
export async function withCommentTexts(db: Database, rows: CommentRow[]): Promise<CommentRow[]> {
  return joinTexts(db, rows, "comment.body", "comment.base");
}

export async function withCommentText(db: Database, row: CommentRow | undefined): Promise<CommentRow | undefined> {
  return row ? (await withCommentTexts(db, [row]))[0] : undefined;
}

async function joinTexts<R extends SplitRow>(db: Database, rows: R[], bodyField: TextField, baseField: TextField): Promise<R[]> {
  const split = rows.filter((r) => r.bodyParts > 0 || r.baseParts > 0);
  if (split.length === 0) return rows;
  const parts = new Map<string, string[]>();
  // D1 binds at most 100 parameters per statement.
  for (let i = 0; i < split.length; i += 90) {
    const ids = split.slice(i, i + 90).map((r) => r.id);
    const found = await db
      .select()
      .from(issueTextParts)
      .where(inArray(issueTextParts.issueId, ids))
      .orderBy(issueTextParts.issueId, issueTextParts.field, issueTextParts.seq)
      .all();
    for (const p of found) {
      const key = `${p.issueId}/${p.field}`;
      const list = parts.get(key) ?? [];
      list[p.seq] = p.text;
      parts.set(key, list);
    }
  }
  const join = (row: R, field: TextField, count: number): string => {
    const list = parts.get(`${row.id}/${field}`) ?? [];
    if (list.length < count) throw new Error(`${field.startsWith("comment.") ? "comment" : "issue"} ${row.id}: ${field} has ${list.length} of its ${count} stored parts`);
    return list.slice(0, count).join("");
  };
  return rows.map((r) => {
    if (r.bodyParts === 0 && r.baseParts === 0) return r;
    return {
      ...r,
      body: r.bodyParts > 0 ? join(r, bodyField, r.bodyParts) : r.body,
      base: r.baseParts > 0 ? join(r, baseField, r.baseParts) : r.base,
    };
  });
}

export async function withText(db: Database, row: IssueRow | undefined): Promise<IssueRow | undefined> {
  return row ? (await withTexts(db, [row]))[0] : undefined;
}

/** Removes the issue's parts (with the issue). */
export function deletePartsOf(issueId: string) {
  return sql`DELETE FROM ${issueTextParts} WHERE issue_id = ${issueId}`;
}

