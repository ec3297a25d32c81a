/**
 * The close reason (GitHub `state_reason`) kept beside an issue's state. Pure. It is not a synced
 * field of its own: GitHub ignores `state_reason` unless `state` changes, so the reason travels with
 * a state change — inbound with the snapshot whose state the local issue takes, outbound with a
 * pushed state. GitLab and Gitea have no such field: a reason set locally stays local.
 */
import { CLOSE_REASONS, type CloseReason, type IssueState } from "../providers/types";

export { CLOSE_REASONS, type CloseReason };

/** Reasons a local edit may set on a closed issue (`reopened` is only ever read from the tracker). */
export const LOCAL_CLOSE_REASONS = ["completed", "not_planned", "duplicate"] as const;
export type LocalCloseReason = (typeof LOCAL_CLOSE_REASONS)[number];

/** Whether a reason fits a state: the closing reasons on a closed issue, `reopened` on an open one. */
export function reasonFitsState(state: IssueState, reason: string | null): boolean {
  if (reason === null) return true;
  return state === "open" ? reason === "reopened" : (LOCAL_CLOSE_REASONS as readonly string[]).includes(reason);
}

/**
 * The reason to store after applying a tracker snapshot, or undefined to keep the stored one: the
 * tracker's reason when it has the field, state may travel inbound, and the local issue ends up in
 * the tracker's state (a pending local state change keeps its own reason).
 */
export function inboundCloseReason(
  snapshot: { state: IssueState; closeReason?: CloseReason | null },
  localStateAfter: IssueState,
  stateInbound: boolean,
): CloseReason | null | undefined {
  if (snapshot.closeReason === undefined || !stateInbound || snapshot.state !== localStateAfter) return undefined;
  return snapshot.closeReason;
}

/** The reason to send with a pushed state (null: let the tracker choose its default). */
export function outboundCloseReason(state: IssueState, stored: string | null): CloseReason | null {
  return stored !== null && reasonFitsState(state, stored) ? (stored as CloseReason) : null;
}

/**
 * The reason after a local edit, or an error message for `closeReason`: an explicit reason must fit
 * the resulting state; a state change without one clears it (the tracker's answer fills it in).
 */
export function editedCloseReason(
  current: { state: IssueState; closeReason: string | null },
  stateAfter: IssueState,
  given: LocalCloseReason | null | undefined,
): { reason: string | null } | { error: string } {
  if (given !== undefined) {
    if (given !== null && stateAfter !== "closed") return { error: "a close reason needs the issue closed (state: closed)" };
    return { reason: given };
  }
  return { reason: stateAfter === current.state ? current.closeReason : null };
}
