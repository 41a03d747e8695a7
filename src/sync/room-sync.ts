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
