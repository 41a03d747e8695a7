/**
 * The contract between /sync and a Room Durable Object: what sync asks a room for one user, and what
 * the room answers. The room applies membership, history visibility and filters; sync only assembles.
 */
import type { JsonObject } from "../core/events/pdu";
import type { ClientEvent } from "../rooms/client-event";
import type { RoomEventFilter } from "../rooms/event-filter";
import type { StreamRange } from "../../durable-objects/user-sync";

export interface RoomSyncRequest {
  roomId: string;
  userId: string;
  deviceId: string;
  /** The membership the user's stream recorded as of the end of this sync. */
  membership: string;
  /** New events to send (incremental), or all events up to `to` (initial: `from` 0). */
  events?: StreamRange;
  receipts?: StreamRange;
  /** Whether to include who is typing now. */
  typing: boolean;
  /** Initial sync, full_state, or a room newly joined: send the full state, not a delta. */
  fullState: boolean;
  timelineLimit: number;
  timelineFilter: RoomEventFilter;
  stateFilter: RoomEventFilter;
  ephemeralFilter: RoomEventFilter;
}

/** An event without `room_id` and `event_id`-less ephemeral content, as sync sends them per room. */
export interface EphemeralEvent {
  type: string;
  content: JsonObject;
}

export interface StrippedStateEvent {
  type: string;
  state_key: string;
  sender: string;
  content: JsonObject;
}

export interface RoomSummary {
  "m.heroes"?: string[];
  "m.joined_member_count"?: number;
  "m.invited_member_count"?: number;
}

export interface RoomSyncResult {
  membership: string;
  timeline?: { events: ClientEvent[]; limited: boolean; prevBatch: string };
  state?: ClientEvent[];
  strippedState?: StrippedStateEvent[];
  ephemeral: EphemeralEvent[];
  summary?: RoomSummary;
  unreadNotifications?: { notification_count: number; highlight_count: number };
}

/** State event types shown to invited and knocking users (as Synapse's room_prejoin_state defaults). */
export const STRIPPED_STATE_TYPES = new Set([
  "m.room.create",
  "m.room.join_rules",
  "m.room.canonical_alias",
  "m.room.avatar",
  "m.room.encryption",
  "m.room.name",
  "m.room.topic",
]);

export function strippedStateEvent(event: { type: string; state_key?: string; sender: string; content: JsonObject }): StrippedStateEvent {
  return { type: event.type, state_key: event.state_key ?? "", sender: event.sender, content: event.content };
}

/** Up to five other members for clients to name an unnamed room by (spec: "Calculating the display name for a room"). */
export function roomSummary(members: { userId: string; membership: string }[], self: string): RoomSummary {
  const joined = members.filter((member) => member.membership === "join");
  const invited = members.filter((member) => member.membership === "invite");
  const heroes = [...joined, ...invited]
    .map((member) => member.userId)
    .filter((userId) => userId !== self)
    .sort()
    .slice(0, 5);
  return { "m.heroes": heroes, "m.joined_member_count": joined.length, "m.invited_member_count": invited.length };
}

export interface ReceiptRecord {
  userId: string;
  receiptType: string;
  threadId: string;
  eventId: string;
  ts: number;
}

/** The m.receipt EDU content: event ID → receipt type → user → {ts, thread_id}. */
export function receiptEvent(receipts: readonly ReceiptRecord[]): EphemeralEvent {
  const content: Record<string, Record<string, Record<string, JsonObject>>> = {};
  for (const receipt of receipts) {
    const byType = (content[receipt.eventId] ??= {});
    const byUser = (byType[receipt.receiptType] ??= {});
    byUser[receipt.userId] = receipt.threadId === "" ? { ts: receipt.ts } : { ts: receipt.ts, thread_id: receipt.threadId };
  }
  return { type: "m.receipt", content };
}
