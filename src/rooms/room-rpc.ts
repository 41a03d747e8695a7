/**
 * The contract between the Worker's room endpoints and the Room Durable Object: RPC inputs and results.
 * A MatrixError cannot cross the RPC boundary as a class, so the Room returns failures as values and
 * the Worker turns them back into the same MatrixError.
 */
import type { ContentfulStatusCode } from "hono/utils/http-status";
import type { JsonObject, PDU } from "../core/events/pdu";
import { MatrixError, type MatrixErrorCode } from "../http/errors";
import type { ClientEvent } from "./client-event";
import type { EventDraft } from "./event-builder";
import type { RoomEventFilter } from "./event-filter";
import type { RoomSyncRequest, RoomSyncResult } from "../sync/room-sync";

export interface RoomFailure {
  status: ContentfulStatusCode;
  errcode: MatrixErrorCode;
  error: string;
}

export type RoomResult<T> = { ok: true; value: T } | { ok: false; failure: RoomFailure };

export function roomFailure(error: MatrixError): RoomFailure {
  return { status: error.status, errcode: error.errcode, error: error.message };
}

/** The value of a Room call, or its failure as the MatrixError the handler answers with. */
export function unwrapRoomResult<T>(result: RoomResult<T>): T {
  if (result.ok) return result.value;
  throw new MatrixError(result.failure.status, result.failure.errcode, result.failure.error);
}

/** The local user a Room call acts for. */
export interface RoomRequester {
  userId: string;
  deviceId: string;
  isGuest: boolean;
}

export interface CreateRoomInput {
  roomId: string;
  roomVersion: string;
  /** The signed m.room.create event, built by the caller because a v12 room ID is derived from it. */
  createEvent: PDU;
  /** Every later event of the new room, in order. */
  events: EventDraft[];
}

export interface SendEventInput {
  roomId: string;
  requester: RoomRequester;
  type: string;
  /** Present for state events. */
  stateKey?: string;
  content: JsonObject;
  /** Present for PUT /send and /redact: repeating a transaction returns the first event's ID. */
  txnId?: string;
  /** Present for redactions. */
  redacts?: string;
}

export type MembershipAction = "join" | "knock" | "leave" | "invite" | "kick" | "ban" | "unban";

export interface MembershipInput {
  roomId: string;
  requester: RoomRequester;
  action: MembershipAction;
  /** The user whose membership changes (the requester for join and leave). */
  target: string;
  reason?: string;
  /** Invites from createRoom with `is_direct`. */
  isDirect?: boolean;
  /** The target's display name and avatar, for join, knock and invite events (as Synapse puts them there). */
  profile?: { displayname?: string; avatar_url?: string };
}

export interface MessagesInput {
  roomId: string;
  requester: RoomRequester;
  direction: "b" | "f";
  from?: number;
  to?: number;
  limit: number;
  filter: RoomEventFilter;
}

export interface MessagesPage {
  chunk: ClientEvent[];
  start: number;
  /** Absent when there are no more events in that direction. */
  end?: number;
  state: ClientEvent[];
}

export interface ContextInput {
  roomId: string;
  requester: RoomRequester;
  eventId: string;
  limit: number;
  filter: RoomEventFilter;
}

export interface EventContext {
  event: ClientEvent;
  eventsBefore: ClientEvent[];
  eventsAfter: ClientEvent[];
  start: number;
  end: number;
  state: ClientEvent[];
}

export interface MembersInput {
  roomId: string;
  requester: RoomRequester;
  at?: number;
  membership?: string;
  notMembership?: string;
}

export interface JoinedMember {
  display_name?: string;
  avatar_url?: string;
}

/** What the Worker needs to know about a user's standing in a room for alias management. */
export interface RoomStanding {
  membership: string | undefined;
  worldReadable: boolean;
  powerLevel: number;
  /** The power level needed to send the given state event type. */
  requiredStateLevel: number;
}

/** One forward extremity, as Synapse's admin API lists them. */
export interface ForwardExtremity {
  event_id: string;
  state_group: number;
  depth: number;
  received_ts: number;
}

export interface TypingInput {
  roomId: string;
  userId: string;
  typing: boolean;
  /** How long the user counts as typing unless they say otherwise. */
  timeoutMs: number;
}

export interface ReceiptInput {
  roomId: string;
  requester: RoomRequester;
  receiptType: "m.read" | "m.read.private";
  eventId: string;
  /** `main`, a thread root's event ID, or absent for an unthreaded receipt. */
  threadId?: string;
}

/**
 * The Room Durable Object's RPC methods. The Room class implements this interface, and request
 * handlers call its stub through it: deriving the stub type from the class makes TypeScript expand
 * the serialization types of recursive JSON (event content) without end.
 */
export interface RoomApi {
  createRoom(input: CreateRoomInput): Promise<RoomResult<{ eventIds: string[] }>>;
  sendEvent(input: SendEventInput): Promise<RoomResult<{ eventId: string }>>;
  changeMembership(input: MembershipInput): Promise<RoomResult<{ eventId: string }>>;
  forget(roomId: string, userId: string): Promise<RoomResult<Record<string, never>>>;
  getMessages(input: MessagesInput): Promise<RoomResult<MessagesPage>>;
  getContext(input: ContextInput): Promise<RoomResult<EventContext>>;
  getEvent(roomId: string, requester: RoomRequester, eventId: string): Promise<RoomResult<ClientEvent>>;
  getState(roomId: string, requester: RoomRequester): Promise<RoomResult<ClientEvent[]>>;
  getStateEvent(roomId: string, requester: RoomRequester, type: string, stateKey: string): Promise<RoomResult<ClientEvent>>;
  getMembers(input: MembersInput): Promise<RoomResult<ClientEvent[]>>;
  getJoinedMembers(roomId: string, requester: RoomRequester): Promise<RoomResult<Record<string, JoinedMember>>>;
  getStanding(roomId: string, userId: string, stateEventType: string): Promise<RoomStanding>;
  syncRoom(request: RoomSyncRequest): Promise<RoomResult<RoomSyncResult>>;
  setTyping(input: TypingInput): Promise<RoomResult<Record<string, never>>>;
  postReceipt(input: ReceiptInput): Promise<RoomResult<Record<string, never>>>;
  getForwardExtremities(roomId: string): Promise<RoomResult<ForwardExtremity[]>>;
}
