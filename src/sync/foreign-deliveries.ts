/**
 * A delivery for another repository (an organisation, group or Gitea org hook sends every
 * repository's events to one URL) is stored as ignored with its reason; the activity stream says
 * so once per project per hour, not once per delivery: such a hook can send thousands an hour, and
 * the deliveries list (`GET …/deliveries`) keeps every one of them with its reason.
 */
import { recordActivityUnlessRecent } from "../db/activity";
import type { Database } from "../db/client";
import { nowIso } from "../ids";

export const FOREIGN_NOTE_INTERVAL_MS = 3600_000;
/** Per isolate: when each project's last note was written (saves the D1 check within the hour). */
const lastNoted = new Map<string, number>();
const MAX_REMEMBERED = 10_000;

/** Records `delivery.foreign` for the project unless one was recorded in the last hour. */
export async function noteForeignDelivery(db: Database, projectId: string, deliveryId: string | null, reason: string, nowMs: number = Date.now()): Promise<void> {
  const last = lastNoted.get(projectId);
  if (last !== undefined && nowMs - last < FOREIGN_NOTE_INTERVAL_MS) return;
  if (lastNoted.size >= MAX_REMEMBERED) lastNoted.clear();
  lastNoted.set(projectId, nowMs);
  await recordActivityUnlessRecent(
    db,
    {
      projectId,
      kind: "delivery.foreign",
      origin: { source: "webhook", deliveryId },
      createdAt: nowIso(nowMs),
      detail: `${reason}; ignored (further ones within the hour are listed in the project's deliveries only)`,
    },
    nowIso(nowMs - FOREIGN_NOTE_INTERVAL_MS),
  );
}

/** Tests: forget this isolate's notes, as a fresh isolate would. */
export function forgetForeignNotes(): void {
  lastNoted.clear();
}
