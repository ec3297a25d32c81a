/**
 * Credentials out of every text we store or log. Where the real secret is known it is replaced
 * where it stands (the HTTP client, the credential gate); everything else is scrubbed of the
 * shapes credentials take, because a tracker or proxy can echo a header we never knew it held.
 */

const REDACTED = "[redacted]";

/**
 * Authorization header values: `Bearer <x>`, `token <x>`, `Basic <x>` (the scheme stays readable).
 * The value must hold a digit, so prose ("the token rejected …") stays as it is.
 */
const AUTHORIZATION = /\b(Bearer|token|Basic)(\s+)(?=[A-Za-z._~+/=-]*[0-9])[A-Za-z0-9._~+/=-]{8,}/gi;

const SHAPES: readonly RegExp[] = [
  // GitHub: personal, OAuth, user-to-server, server-to-server (installation), refresh; fine-grained PATs.
  /\bgh[opusr]_[A-Za-z0-9]{16,}\b/g,
  /\bgithub_pat_[A-Za-z0-9_]{20,}\b/g,
  // GitLab: personal/project/group (glpat-), OAuth, runner, deploy, feed, trigger, SCIM … tokens.
  /\bgl(?:pat|oas|rt|dt|ptt|ft|soat|cbt|imt|agent|ffct|wt)-[A-Za-z0-9_-]{16,}/g,
  // JSON Web Tokens (a GitHub App JWT).
  /\beyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}/g,
  // Gitea access tokens: 40 hex characters.
  /\b[0-9a-f]{40}\b/g,
];

/** `text` with `secrets` (when known) and every credential-shaped string replaced by "[redacted]". */
export function redactSecrets(text: string, secrets: readonly (string | null | undefined)[] = []): string {
  let out = text;
  for (const secret of secrets) if (secret && secret.length >= 8) out = out.split(secret).join(REDACTED);
  out = out.replace(AUTHORIZATION, `$1$2${REDACTED}`);
  for (const shape of SHAPES) out = out.replace(shape, REDACTED);
  return out;
}
