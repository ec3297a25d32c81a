/**
 * Attribution: a comment written locally by Jane and posted with the sync's token carries a first
 * line naming her, so the tracker's readers know who wrote it. The line is added only on the way
 * out and removed on the way in, so the local body stays exactly what Jane wrote.
 */
import { canonicalText } from "../providers/canonical";

/** Markdown that would turn the author's name into markup or a mention is escaped. */
function escapeName(author: string): string {
  return author.replace(/[\\`*_[\]<>@#~|]/g, (ch) => `\\${ch}`).replace(/[\r\n]+/g, " ");
}

export function attributionLine(author: string): string {
  return `*${escapeName(author)} wrote in Syndarix:*\n\n`;
}

/** The text sent to the tracker for a local body. */
export function withAttribution(author: string, body: string, enabled: boolean): string {
  return enabled ? attributionLine(author) + body : body;
}

/** The body as the local store holds it: the author's attribution line removed when present. */
export function withoutAttribution(author: string, trackerBody: string): string {
  const line = attributionLine(author);
  return trackerBody.startsWith(line) ? trackerBody.slice(line.length) : trackerBody;
}

/** Trackers may hand text back with CRLF line ends; compare and store in the one canonical text form. */
export function normalizeBody(body: string): string {
  return canonicalText(body);
}
