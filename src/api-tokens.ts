/**
 * The API tokens and how a presented one is checked: shared by the API's bearer auth (http/) and the
 * dashboard's sign-in (ui/), so both accept exactly the same tokens the same way.
 */
import { z } from "zod";
import { constantTimeEqual } from "./crypto";
import type { Env } from "./env";
import { log } from "./log";

/** Who called: the API token's name (recorded as the actor of changes) and scope. Never the token. */
export interface ApiToken {
  name: string;
  scope: "read" | "admin";
}

const TokenEntry = z.strictObject({
  name: z.string().trim().min(1).max(100),
  scope: z.enum(["read", "admin"]),
  token: z.string().min(16).max(500),
});
const TokenList = z.array(TokenEntry).max(50);
type TokenEntry = z.infer<typeof TokenEntry>;


const parsedLists = new Map<string, TokenEntry[] | null>();

/**
 * Every valid API token: API_TOKEN as the admin token "default", plus API_TOKENS (a JSON array of
 * `{name, scope, token}`). A malformed API_TOKENS is logged (without its content) and ignored, so
 * API_TOKEN keeps working; null when no token is configured at all.
 */
export function configuredTokens(env: Pick<Env, "API_TOKEN" | "API_TOKENS">): TokenEntry[] | null {
  const tokens: TokenEntry[] = [];
  if (env.API_TOKEN) tokens.push({ name: "default", scope: "admin", token: env.API_TOKEN });
  if (env.API_TOKENS) {
    let list = parsedLists.get(env.API_TOKENS);
    if (list === undefined) {
      let parsed: unknown = null;
      try {
        parsed = JSON.parse(env.API_TOKENS);
      } catch {
        // reported below
      }
      const result = TokenList.safeParse(parsed);
      list = result.success ? result.data : null;
      if (!result.success) log.error("API_TOKENS is not a JSON array of {name, scope, token}; only API_TOKEN is accepted", {});
      parsedLists.set(env.API_TOKENS, list);
    }
    tokens.push(...(list ?? []));
  }
  return tokens.length > 0 ? tokens : null;
}

/**
 * The configured token equal to `presented`, if any: compared with every configured one (SHA-256
 * digests, constant time, no early exit). The dashboard's sign-in checks tokens the same way.
 */
export async function resolveApiToken(env: Pick<Env, "API_TOKEN" | "API_TOKENS">, presented: string): Promise<ApiToken | null> {
  const tokens = configuredTokens(env);
  if (!tokens || !presented) return null;
  let found: TokenEntry | null = null;
  for (const entry of tokens) {
    if ((await constantTimeEqual(presented, entry.token)) && !found) found = entry;
  }
  return found ? { name: found.name, scope: found.scope } : null;
}

