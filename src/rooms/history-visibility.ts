/**
 * Who may see which events of a room (client-server API, "Room History Visibility", server behaviour),
 * decided from the room state at the event as pure functions.
 */
import type { JsonObject } from "../core/events/pdu";

export const HISTORY_VISIBILITIES = ["world_readable", "shared", "invited", "joined"] as const;
export type HistoryVisibility = (typeof HISTORY_VISIBILITIES)[number];

function isHistoryVisibility(value: unknown): value is HistoryVisibility {
  return typeof value === "string" && (HISTORY_VISIBILITIES as readonly string[]).includes(value);
}

/** The visibility an m.room.history_visibility content sets; `shared` when absent or not understood. */
export function historyVisibilityOf(content: JsonObject | undefined): HistoryVisibility {
  const value = content?.["history_visibility"];
  return isHistoryVisibility(value) ? value : "shared";
}

export interface EventVisibilityFacts {
  /** History visibility in the room state before and after the event (they differ only for m.room.history_visibility events). */
  visibilityBefore: HistoryVisibility;
  visibilityAfter: HistoryVisibility;
  /** The user's membership before and after the event (they differ only for the user's own membership events). */
  membershipBefore: string | undefined;
  membershipAfter: string | undefined;
  /** Whether the user's membership was `join` at this event or at any point after it. */
  joinedSince: boolean;
}

function allowedAt(visibility: HistoryVisibility, membership: string | undefined, joinedSince: boolean): boolean {
  if (visibility === "world_readable") return true;
  if (membership === "join") return true;
  if (visibility === "shared") return joinedSince;
  return visibility === "invited" && membership === "invite";
}

/** Memberships a user leaves by an event they must see, or their client never learns the room is gone. */
const LEFT_VISIBLY_FROM = new Set(["join", "invite", "knock"]);

/**
 * The spec's rules: world_readable, or joined at the event, or shared and joined since, or invited while
 * visibility is `invited`. For history visibility events and the user's own membership events the state
 * before *or* after the event may allow it. Beyond the spec, as Synapse: a user always sees the event
 * that ends their invite or knock (a rejection, a withdrawal, a denial).
 */
export function mayUserSeeEvent(facts: EventVisibilityFacts): boolean {
  if (facts.membershipAfter === "leave" && facts.membershipBefore !== undefined && LEFT_VISIBLY_FROM.has(facts.membershipBefore)) return true;
  return (
    allowedAt(facts.visibilityAfter, facts.membershipAfter, facts.joinedSince) ||
    allowedAt(facts.visibilityBefore, facts.membershipBefore, facts.joinedSince)
  );
}
