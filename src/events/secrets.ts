/**
 * Signing secrets at rest: AES-GCM under TOKEN_ENCRYPTION_KEY, bound to the subscription's id (a
 * ciphertext copied to another subscription does not decrypt). After a rotation the previous secret
 * keeps signing beside the new one until it expires, so a receiver can switch without dropping events.
 */
import { decryptSecret, encryptSecret } from "../crypto";
import type { SubscriptionRow } from "../db/schema";
import type { Env } from "../env";

export const ROTATION_OVERLAP_MS = 24 * 3_600_000;

const context = (subscriptionId: string) => `subscription:${subscriptionId}:secret`;

export function sealSubscriptionSecret(env: Env, subscriptionId: string, secret: string): Promise<string> {
  return encryptSecret(env.TOKEN_ENCRYPTION_KEY, secret, context(subscriptionId));
}

/** The secrets that sign now: the current one, then the previous one while its overlap lasts. */
export async function subscriptionSecrets(env: Env, sub: SubscriptionRow, nowMs: number): Promise<string[]> {
  const secrets = [await decryptSecret(env.TOKEN_ENCRYPTION_KEY, sub.secretEnc, context(sub.id))];
  if (sub.previousSecretEnc && sub.previousSecretExpiresAt && Date.parse(sub.previousSecretExpiresAt) > nowMs) {
    secrets.push(await decryptSecret(env.TOKEN_ENCRYPTION_KEY, sub.previousSecretEnc, context(sub.id)));
  }
  return secrets;
}
