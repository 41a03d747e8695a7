/**
 * Room: one Durable Object per room (`idFromName(roomId)`), the single writer of that room.
 *
 * Every local event is created here, one at a time: prev_events are the forward extremities, auth
 * events come from the auth events selection over the current state, depth is the deepest prev event
 * plus one; the event is hashed and signed with the server key, checked by the auth rules against its
 * auth events and against the current state, size-checked, and persisted atomically with its state
 * group and stream ordering. Waiters for new events (sync) are then woken. Membership changes are also
 * written to the Postgres membership index; ordinary messages never touch Postgres.
 *
 * Reads (history, state, members) apply the history visibility rules for the requesting user.
 */
import { DurableObject } from "cloudflare:workers";
import { sql } from "drizzle-orm";
import { referencedEventId } from "../src/core/auth/auth-events";
import { authorizeEventAgainstState, authorizeEventWithAuthEvents } from "../src/core/auth/auth-rules";
import {
  getPowerLevels,
  getUserPowerLevel,
  notificationPowerLevel,
  requiredPowerLevel,
  validatePowerLevelsContent,
} from "../src/core/auth/power-levels";
import { stateTupleKey, type StateLookup, type StateTupleKey } from "../src/core/auth/state-map";
import { CanonicalJsonError, encodeCanonicalJson } from "../src/core/canonical-json";
import { computeRoomIdFromCreateEvent, getEventId } from "../src/core/events/event-id";
import type { JsonObject, StoredEvent } from "../src/core/events/pdu";
import { getRoomVersion, type RoomVersion } from "../src/core/room-versions";
import { loadConfig, type Config } from "../src/config";
import { withDatabase } from "../src/db/client";
import { roomMemberships } from "../src/db/schema";
import type { Env } from "../src/env";
import { MatrixError, badJson, forbidden, invalidParam, notFound } from "../src/http/errors";
import { toClientEvent, type ClientEvent } from "../src/rooms/client-event";
import { buildLocalEvent, selectAuthEvents, type EventDraft } from "../src/rooms/event-builder";
import { filterAllowsRoom, matchesRoomEventFilter, type RoomEventFilter } from "../src/rooms/event-filter";
import { historyVisibilityOf, mayUserSeeEvent, type HistoryVisibility } from "../src/rooms/history-visibility";
import {
  roomFailure,
  type ContextInput,
  type CreateRoomInput,
  type EventContext,
  type ForwardExtremity,
  type JoinedMember,
  type MembersInput,
  type MembershipAction,
  type MembershipInput,
  type MessagesInput,
  type MessagesPage,
  type RoomApi,
  type RoomRequester,
  type RoomResult,
  type ReceiptInput,
  type RoomStanding,
  type SendEventInput,
  type TypingInput,
} from "../src/rooms/room-rpc";
import { serverIdentity } from "../src/rooms/signing-key";
import { defaultPushRules, evaluatePushRules } from "../src/core/push-rules";
import { encodeRoomToken } from "../src/rooms/pagination-token";
import {
  STRIPPED_STATE_TYPES,
  receiptEvent,
  roomSummary,
  strippedStateEvent,
  type EphemeralEvent,
  type RoomSyncRequest,
  type RoomSyncResult,
} from "../src/sync/room-sync";
import { RoomStore, type AcceptedEvent, type EventRow, type OutboxRow, type RoomMeta, type StateEntry } from "./room-store";
import { userSyncStub } from "../src/sync/user-sync-stub";
import type { RoomNotice } from "./user-sync";

/** How many stored events one history request may look at while filtering, at most. */
const MAX_SCANNED_EVENTS = 1000;
const SCAN_BATCH = 100;
const INDEX_RETRY_DELAY_MS = 10_000;
const NOTICE_RETRY_DELAY_MS = 1_000;
/** Typing notifications last at most this long without being renewed (as Synapse caps them). */
const MAX_TYPING_MS = 120_000;
/** How many devices' lazy-loading records a room keeps, at most (the least recently syncing go first). */
const MAX_LAZY_MEMBER_RECORDS = 1_000;
/** How many unread events are counted for unread_notifications, at most. */
const MAX_COUNTED_UNREAD = 1_000;

interface UnreadCount {
  readUpTo: number;
  countedUpTo: number;
  notifications: number;
  highlights: number;
}

async function respond<T>(work: () => Promise<T> | T): Promise<RoomResult<T>> {
  try {
    return { ok: true, value: await work() };
  } catch (error) {
    if (error instanceof MatrixError) return { ok: false, failure: roomFailure(error) };
    throw error;
  }
}

function sameContent(a: JsonObject, b: JsonObject): boolean {
  try {
    return encodeCanonicalJson(a, { strict: false }) === encodeCanonicalJson(b, { strict: false });
  } catch (error) {
    if (error instanceof CanonicalJsonError) return false;
    throw error;
  }
}

function membershipOf(event: StoredEvent | undefined): string | undefined {
  const membership = event?.pdu.content["membership"];
  return typeof membership === "string" ? membership : undefined;
}

/** Events accepted but not yet persisted, seen on top of the room's current state. */
class PendingBatch {
  readonly accepted: AcceptedEvent[] = [];
  private readonly pendingState = new Map<StateTupleKey, StoredEvent>();
  private readonly pendingEvents = new Map<string, StoredEvent>();

  constructor(
    private readonly base: { state: StateLookup; event: (eventId: string) => StoredEvent | undefined },
    public extremities: StoredEvent[],
  ) {}

  state: StateLookup = (type, stateKey) => this.pendingState.get(stateTupleKey(type, stateKey)) ?? this.base.state(type, stateKey);

  event(eventId: string): StoredEvent | undefined {
    return this.pendingEvents.get(eventId) ?? this.base.event(eventId);
  }

  add(accepted: AcceptedEvent): void {
    const { event } = accepted;
    this.accepted.push(accepted);
    this.pendingEvents.set(event.eventId, event);
    if (event.pdu.state_key !== undefined) this.pendingState.set(stateTupleKey(event.pdu.type, event.pdu.state_key), event);
    // Every local event cites all forward extremities, so afterwards it is the only one.
    this.extremities = [event];
  }
}

/** A member event sent to a device, in the response that reached room position `upTo`. */
interface SentMember {
  eventId: string;
  upTo: number;
}

/** How far a user may read a room: everything up to `upTo` (their leave, for users who left). */
interface ReadAccess {
  upTo: number;
}

export class Room extends DurableObject<Env> implements RoomApi {
  private readonly config: Config;
  private readonly store: RoomStore;
  private writeTail: Promise<unknown> = Promise.resolve();
  private indexFlushTail: Promise<unknown> = Promise.resolve();
  /** Local users joined now: derived from the current state once, then kept up to date on every commit. */
  private joinedLocal: Set<string> | undefined;
  /** News for local users not yet handed to their UserSync streams, merged per user. */
  private readonly pendingNotices = new Map<string, RoomNotice>();
  /** The delivery round that has not started yet: news queued now goes out with it. */
  private nextNoticeRound: Promise<void> | undefined;
  private noticeRoundTail: Promise<unknown> = Promise.resolve();
  /** Who is typing, until when (ms since the epoch). */
  private readonly typingUntil = new Map<string, number>();
  private typingTimer: ReturnType<typeof setTimeout> | undefined;
  /**
   * Per user and device, for lazy-loading members without redundancy: the member event last sent for
   * each member, and the room position the response carrying it reached. Kept in memory only (as
   * Synapse does): losing it only means sending members again.
   */
  private readonly lazyMembersSent = new Map<string, Map<string, SentMember>>();
  /** Per user: the unread counts of the events after their read receipt, as far as they were counted. */
  private readonly unreadCounts = new Map<string, UnreadCount>();

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    this.config = loadConfig(env);
    this.store = new RoomStore(ctx.storage);
    this.requeueUndeliveredNotices();
  }

  /**
   * Runs writes one at a time. Building an event awaits signing, so without this two requests could
   * both pick the same forward extremities and stream position.
   */
  private exclusive<T>(work: () => Promise<T>): Promise<T> {
    const run = this.writeTail.then(work);
    this.writeTail = run.catch(() => undefined);
    return run;
  }

  private requireRoom(roomId: string): RoomMeta {
    const meta = this.store.meta;
    if (meta === undefined || meta.roomId !== roomId) throw notFound(`Unknown room ${roomId}`);
    return meta;
  }

  // ---------------------------------------------------------------------------
  // Writing
  // ---------------------------------------------------------------------------

  private currentBatch(): PendingBatch {
    return new PendingBatch(
      { state: (type, stateKey) => this.store.currentStateEvent(type, stateKey), event: (id) => this.store.event(id) },
      this.store.forwardExtremities(),
    );
  }

  private async buildEvent(batch: PendingBatch, draft: EventDraft, meta: RoomMeta): Promise<StoredEvent> {
    return buildLocalEvent(
      draft,
      {
        roomId: meta.roomId,
        prevEvents: batch.extremities,
        authEvents: selectAuthEvents(draft, batch.state, meta.roomVersion),
        originServerTs: Date.now(),
      },
      meta.roomVersion,
      await serverIdentity(this.config),
    );
  }

  /** The auth rules against the event's own auth events and against the current state; M_FORBIDDEN if either rejects it. */
  private accept(batch: PendingBatch, roomVersion: RoomVersion, accepted: AcceptedEvent): void {
    const { pdu } = accepted.event;
    const authEvents = pdu.auth_events
      .map((reference) => batch.event(referencedEventId(reference)))
      .filter((event): event is StoredEvent => event !== undefined);
    const createEvent = batch.state("m.room.create", "");
    const againstAuthEvents = authorizeEventWithAuthEvents(pdu, authEvents, roomVersion, createEvent ? { createEvent } : {});
    if (!againstAuthEvents.allowed) throw forbidden(againstAuthEvents.reason);
    const againstCurrentState = authorizeEventAgainstState(pdu, batch.state, roomVersion);
    if (!againstCurrentState.allowed) throw forbidden(againstCurrentState.reason);
    batch.add(accepted);
  }

  private commit(batch: PendingBatch, initialize?: { roomId: string; roomVersion: RoomVersion }): void {
    this.store.persist(batch.accepted, initialize);
    this.announceEvents(batch.accepted.map((accepted) => accepted.event));
  }

  // ---------------------------------------------------------------------------
  // Telling members' sync streams
  // ---------------------------------------------------------------------------

  private isLocalUser(userId: string): boolean {
    return userId.slice(userId.indexOf(":") + 1) === this.config.serverName;
  }

  private joinedLocalUsers(): Set<string> {
    if (this.joinedLocal === undefined) {
      this.joinedLocal = new Set();
      for (const entry of this.store.currentStateEntries("m.room.member")) {
        if (this.isLocalUser(entry.state_key) && membershipOf(this.store.event(entry.event_id)) === "join") {
          this.joinedLocal.add(entry.state_key);
        }
      }
    }
    return this.joinedLocal;
  }

  /**
   * After a commit: every local member learns the room's new position; membership changes reach their
   * targets. Membership changes also go to every local member, with the joined members to the users
   * whose own membership changed, for their device list tracking (UserSync.trackSharedMembers).
   */
  private announceEvents(events: readonly StoredEvent[]): void {
    const joined = this.joinedLocalUsers();
    const position = this.store.position;
    const memberships: Record<string, string> = {};
    for (const { pdu } of events) {
      if (pdu.type !== "m.room.member" || pdu.state_key === undefined) continue;
      const membership = membershipOf({ eventId: "", pdu }) ?? "leave";
      memberships[pdu.state_key] = membership;
      if (!this.isLocalUser(pdu.state_key)) continue;
      if (membership === "join") joined.add(pdu.state_key);
      else joined.delete(pdu.state_key);
    }
    const changed = Object.keys(memberships).length > 0;
    const joinedMembers = changed ? this.store.joinedMembers() : [];
    for (const [userId, membership] of Object.entries(memberships)) {
      if (this.isLocalUser(userId)) this.queueNotice(userId, { eventsPosition: position, membership, memberships, joinedMembers });
    }
    for (const userId of joined) {
      this.queueNotice(userId, { eventsPosition: position, membership: "join", ...(changed ? { memberships } : {}) });
    }
  }

  private queueNotice(userId: string, news: Omit<RoomNotice, "roomId">): void {
    const roomId = this.store.meta?.roomId;
    if (roomId === undefined) return;
    const pending = this.pendingNotices.get(userId) ?? { roomId };
    if (news.eventsPosition !== undefined) pending.eventsPosition = Math.max(pending.eventsPosition ?? 0, news.eventsPosition);
    if (news.receiptsPosition !== undefined) pending.receiptsPosition = Math.max(pending.receiptsPosition ?? 0, news.receiptsPosition);
    if (news.membership !== undefined) pending.membership = news.membership;
    if (news.typing) pending.typing = true;
    if (news.memberships !== undefined) pending.memberships = { ...pending.memberships, ...news.memberships };
    if (news.joinedMembers !== undefined) pending.joinedMembers = news.joinedMembers;
    this.pendingNotices.set(userId, pending);
  }

  /**
   * News a previous life of this object committed but did not get to tell (it was evicted or crashed
   * in between): the notice marks say where telling stopped, so it is queued again from there. Telling
   * a stream again what it already knows is harmless: it asks the room for ranges, not for events.
   */
  private requeueUndeliveredNotices(): void {
    if (this.store.meta === undefined) return;
    const marks = this.store.noticeMarks();
    const position = this.store.position;
    if (marks.events < position) {
      const rows = this.store.rowsForward(marks.events, position, position - marks.events);
      this.announceEvents(rows.map((row) => this.store.eventFromRow(row)));
    }
    const receiptPosition = this.store.receiptPosition;
    if (marks.receipts < receiptPosition) {
      for (const userId of this.joinedLocalUsers()) this.queueNotice(userId, { receiptsPosition: receiptPosition });
    }
    if (this.pendingNotices.size > 0) void this.ctx.storage.setAlarm(Date.now());
  }

  /**
   * Hands the queued news to the users' UserSync objects, one call per user per round, and resolves
   * once the news queued before the call is delivered. Writers await it before answering, so whoever
   * syncs after a send returned sees the event. Rounds run one at a time; news queued while one is in
   * flight waits for the next, so under load each user gets one call for many events.
   */
  private deliverNotices(): Promise<void> {
    if (this.nextNoticeRound !== undefined) return this.nextNoticeRound;
    const round = this.noticeRoundTail.then(() => {
      this.nextNoticeRound = undefined;
      return this.deliverNoticeRound();
    });
    this.nextNoticeRound = round;
    this.noticeRoundTail = round.catch(() => undefined);
    return round;
  }

  private async deliverNoticeRound(): Promise<void> {
    if (this.pendingNotices.size === 0) return;
    // Every event and receipt up to here is announced, so it is in this round or delivered before.
    const eventsUpTo = this.store.position;
    const receiptsUpTo = this.store.receiptPosition;
    const round = [...this.pendingNotices];
    this.pendingNotices.clear();
    let failed = false;
    await Promise.all(
      round.map(async ([userId, notice]) => {
        try {
          await userSyncStub(this.env, userId).roomsUpdated([notice]);
        } catch (error) {
          failed = true;
          console.warn(`room ${notice.roomId}: telling ${userId} failed, retrying:`, error instanceof Error ? error.message : error);
          this.queueNotice(userId, notice);
        }
      }),
    );
    if (failed) await this.ctx.storage.setAlarm(Date.now() + NOTICE_RETRY_DELAY_MS);
    else this.store.markNoticesDelivered(eventsUpTo, receiptsUpTo);
  }

  /** Creates the room from its signed create event and the rest of its initial events, all or nothing. */
  async createRoom(input: CreateRoomInput): Promise<RoomResult<{ eventIds: string[] }>> {
    const result = await respond(() =>
      this.exclusive(async () => {
        if (this.store.meta !== undefined) throw new MatrixError(400, "M_ROOM_IN_USE", "A room with this ID already exists");
        const roomVersion = getRoomVersion(input.roomVersion);
        if (roomVersion === undefined) throw new MatrixError(400, "M_UNSUPPORTED_ROOM_VERSION", "Unsupported room version");
        const createPdu = input.createEvent;
        const namedRoom = roomVersion.roomIdFromCreateEvent ? computeRoomIdFromCreateEvent(createPdu, roomVersion) : createPdu.room_id;
        if (createPdu.type !== "m.room.create" || namedRoom !== input.roomId) {
          throw invalidParam("The create event does not belong to this room");
        }
        const meta: RoomMeta = { roomId: input.roomId, roomVersion };
        const batch = new PendingBatch({ state: () => undefined, event: () => undefined }, []);
        try {
          this.accept(batch, roomVersion, { event: { eventId: getEventId(createPdu, roomVersion), pdu: createPdu } });
          for (const draft of input.events) {
            this.accept(batch, roomVersion, { event: await this.buildEvent(batch, draft, meta) });
          }
        } catch (error) {
          // The spec's error for initial state that the auth rules reject.
          if (error instanceof MatrixError && error.errcode === "M_FORBIDDEN") {
            throw new MatrixError(400, "M_INVALID_ROOM_STATE", `Invalid initial room state: ${error.message}`);
          }
          throw error;
        }
        this.commit(batch, { roomId: input.roomId, roomVersion });
        return { eventIds: batch.accepted.map((accepted) => accepted.event.eventId) };
      }),
    );
    await Promise.all([this.flushMembershipIndex(), this.deliverNotices()]);
    return result;
  }

  /** Sends a message, state or redaction event (PUT /send, PUT /state, PUT /redact). */
  async sendEvent(input: SendEventInput): Promise<RoomResult<{ eventId: string }>> {
    const result = await respond(() =>
      this.exclusive(async () => {
        const meta = this.requireRoom(input.roomId);
        const { requester } = input;
        if (input.txnId !== undefined) {
          const earlier = this.store.transactionEventId(requester.userId, requester.deviceId, input.txnId);
          if (earlier !== undefined) return { eventId: earlier };
        }
        if (input.type === "m.room.member" && input.stateKey !== undefined) {
          return this.applyMembership(meta, requester, input.stateKey, input.content, undefined);
        }
        if (input.stateKey !== undefined) {
          // Re-sending the current state unchanged does not create an event (as Synapse).
          const current = this.store.currentStateEvent(input.type, input.stateKey);
          if (current !== undefined && current.pdu.sender === requester.userId && sameContent(current.pdu.content, input.content)) {
            return { eventId: current.eventId };
          }
        }
        if (input.type === "m.room.power_levels" && input.stateKey === "") {
          // Malformed power levels are a bad request (as in Synapse), not a permission problem.
          const problem = validatePowerLevelsContent(input.content, meta.roomVersion);
          if (problem !== undefined) throw badJson(problem);
        }
        const redactionTarget = input.redacts === undefined ? undefined : this.checkRedaction(meta, requester.userId, input.redacts);
        const batch = this.currentBatch();
        const draft: EventDraft = { type: input.type, sender: requester.userId, content: input.content };
        if (input.stateKey !== undefined) draft.stateKey = input.stateKey;
        if (input.redacts !== undefined) draft.redacts = input.redacts;
        const event = await this.buildEvent(batch, draft, meta);
        const accepted: AcceptedEvent = { event };
        if (input.txnId !== undefined) accepted.transaction = { deviceId: requester.deviceId, txnId: input.txnId };
        if (redactionTarget !== undefined) accepted.redactionTarget = redactionTarget;
        this.accept(batch, meta.roomVersion, accepted);
        this.commit(batch);
        return { eventId: event.eventId };
      }),
    );
    await Promise.all([this.flushMembershipIndex(), this.deliverNotices()]);
    return result;
  }

  /**
   * Who may redact what, checked when the redaction is created (from room version 3 the auth rules
   * leave it to the server applying it): a user's own events, or anyone's with the `redact` level.
   * Returns the event to redact, or undefined when it is not known here (the redaction is still sent).
   */
  private checkRedaction(meta: RoomMeta, sender: string, redacts: string): string | undefined {
    const target = this.store.event(redacts);
    if (target === undefined) return undefined;
    if (target.pdu.type === "m.room.create") throw forbidden("Redacting create events is not permitted");
    if (target.pdu.sender !== sender) {
      const state: StateLookup = (type, stateKey) => this.store.currentStateEvent(type, stateKey);
      const redactLevel = getPowerLevels(state, meta.roomVersion).redact;
      if (getUserPowerLevel(sender, state, meta.roomVersion) < redactLevel) {
        throw forbidden("You don't have permission to redact events");
      }
    }
    return redacts;
  }

  /** Join, knock, leave, invite, kick, ban and unban. */
  async changeMembership(input: MembershipInput): Promise<RoomResult<{ eventId: string }>> {
    const result = await respond(() =>
      this.exclusive(async () => {
        const meta = this.requireRoom(input.roomId);
        const membership = input.action === "kick" || input.action === "unban" ? "leave" : input.action;
        const withProfile = membership === "join" || membership === "knock" || membership === "invite";
        const content: JsonObject = withProfile ? { ...input.profile, membership } : { membership };
        if (input.reason !== undefined) content["reason"] = input.reason;
        if (input.isDirect === true) content["is_direct"] = true;
        return this.applyMembership(meta, input.requester, input.target, content, input.action);
      }),
    );
    await Promise.all([this.flushMembershipIndex(), this.deliverNotices()]);
    return result;
  }

  /**
   * A membership change, with the checks Synapse makes before the auth rules: unbanning someone not
   * banned is M_BAD_STATE, kicking someone not in the room is M_FORBIDDEN, guests join only rooms with
   * guest access, and repeating the current membership unchanged returns the existing event.
   */
  private async applyMembership(
    meta: RoomMeta,
    requester: RoomRequester,
    target: string,
    content: JsonObject,
    action: MembershipAction | undefined,
  ): Promise<{ eventId: string }> {
    const membership = content["membership"];
    if (typeof membership !== "string") throw badJson("Membership events need a string content.membership");
    const current = this.store.currentStateEvent("m.room.member", target);
    const previous = membershipOf(current);
    if (action === "unban" && previous !== "ban") {
      throw new MatrixError(403, "M_BAD_STATE", `Cannot unban user who was not banned (membership=${previous ?? "none"})`);
    }
    if (current !== undefined && current.pdu.sender === requester.userId && sameContent(current.pdu.content, content)) {
      return { eventId: current.eventId };
    }
    if (action === "kick" && (previous === undefined || previous === "leave" || previous === "ban")) {
      throw forbidden("The target user is not in the room");
    }
    if (membership === "join" && requester.isGuest) {
      const guestAccess = this.store.currentStateEvent("m.room.guest_access", "")?.pdu.content["guest_access"];
      if (guestAccess !== "can_join") throw forbidden("Guest access not allowed");
    }
    const batch = this.currentBatch();
    const event = await this.buildEvent(batch, { type: "m.room.member", sender: requester.userId, stateKey: target, content }, meta);
    this.accept(batch, meta.roomVersion, { event });
    this.commit(batch);
    return { eventId: event.eventId };
  }

  /** POST /forget: only once the user has left (or been banned or kicked). */
  async forget(roomId: string, userId: string): Promise<RoomResult<Record<string, never>>> {
    const result = await respond(() =>
      this.exclusive(async () => {
        if (this.store.meta === undefined || this.store.meta.roomId !== roomId) return {};
        const eventId = this.store.currentStateEventId("m.room.member", userId);
        const row = eventId === undefined ? undefined : this.store.row(eventId);
        if (row === undefined) return {};
        if (row.membership !== "leave" && row.membership !== "ban") {
          throw new MatrixError(400, "M_UNKNOWN", `User ${userId} is in room ${roomId}`);
        }
        this.store.forget(userId, row);
        return {};
      }),
    );
    await Promise.all([this.flushMembershipIndex(), this.deliverNotices()]);
    return result;
  }

  // ---------------------------------------------------------------------------
  // The Postgres membership index
  // ---------------------------------------------------------------------------

  /**
   * Writes queued membership changes to Postgres. The queue is committed with the events, so a failed
   * write loses nothing: an alarm retries it. Flushes run one at a time so an older flush cannot land
   * after a newer one.
   */
  private flushMembershipIndex(): Promise<void> {
    const run = this.indexFlushTail.then(() => this.writeMembershipIndex());
    this.indexFlushTail = run.catch(() => undefined);
    return run;
  }

  private async writeMembershipIndex(): Promise<void> {
    const meta = this.store.meta;
    const pending = this.store.pendingIndexUpdates();
    const last = pending.at(-1);
    if (meta === undefined || last === undefined) return;
    const latestByUser = new Map<string, OutboxRow>();
    for (const row of pending) latestByUser.set(row.user_id, row);
    const now = Date.now();
    try {
      await withDatabase(this.config, (db) =>
        db
          .insert(roomMemberships)
          .values(
            [...latestByUser.values()].map((row) => ({
              roomId: meta.roomId,
              userId: row.user_id,
              membership: row.membership,
              eventId: row.event_id,
              streamOrdering: row.stream_ordering,
              forgotten: row.forgotten === 1,
              updatedTs: now,
            })),
          )
          .onConflictDoUpdate({
            target: [roomMemberships.roomId, roomMemberships.userId],
            set: {
              membership: sql`excluded.membership`,
              eventId: sql`excluded.event_id`,
              streamOrdering: sql`excluded.stream_ordering`,
              forgotten: sql`excluded.forgotten`,
              updatedTs: sql`excluded.updated_ts`,
            },
            setWhere: sql`${roomMemberships.streamOrdering} <= excluded.stream_ordering`,
          }),
      );
      this.store.clearIndexUpdates(last.id);
    } catch (error) {
      console.warn(`room ${meta.roomId}: membership index update failed, retrying:`, error instanceof Error ? error.message : error);
      await this.ctx.storage.setAlarm(Date.now() + INDEX_RETRY_DELAY_MS);
    }
  }

  /** One alarm serves both queues when no request carries them: members' sync news and membership index writes. */
  override async alarm(): Promise<void> {
    await Promise.all([this.deliverNotices(), this.flushMembershipIndex()]);
  }

  // ---------------------------------------------------------------------------
  // Reading
  // ---------------------------------------------------------------------------

  /**
   * Whether the user may read the room at all, and up to where: members up to now, users who left up
   * to their leave (until they forget the room), anyone up to now in a world-readable room. Unknown
   * rooms get the same M_FORBIDDEN as rooms the user is not in, so room IDs cannot be probed.
   */
  private readableRoom(roomId: string, userId: string): { meta: RoomMeta; access: ReadAccess } {
    const meta = this.store.meta;
    if (meta !== undefined && meta.roomId === roomId) {
      const eventId = this.store.currentStateEventId("m.room.member", userId);
      const row = eventId === undefined ? undefined : this.store.row(eventId);
      const membership = row?.membership ?? undefined;
      if (membership === "join") return { meta, access: { upTo: this.store.position } };
      if (row !== undefined && (membership === "leave" || membership === "ban") && !this.store.hasForgotten(userId, row.stream_ordering)) {
        return { meta, access: { upTo: row.stream_ordering } };
      }
      if (this.currentHistoryVisibility() === "world_readable") return { meta, access: { upTo: this.store.position } };
    }
    throw forbidden(`User ${userId} not in room ${roomId}`);
  }

  private currentHistoryVisibility(): HistoryVisibility {
    return historyVisibilityOf(this.store.currentStateEvent("m.room.history_visibility", "")?.pdu.content);
  }

  /** A per-request check of which events the user may see (state lookups are cached per state group). */
  private visibilityFor(userId: string): (row: EventRow) => boolean {
    const joinPositions = this.store.joinPositions(userId);
    const visibilityByGroup = new Map<number, HistoryVisibility>();
    const membershipByGroup = new Map<number, string | undefined>();
    const visibilityAt = (group: number | null): HistoryVisibility => {
      if (group === null) return "shared";
      let visibility = visibilityByGroup.get(group);
      if (visibility === undefined) {
        const eventId = this.store.stateEventIdAt(group, "m.room.history_visibility", "");
        visibility = historyVisibilityOf(eventId === undefined ? undefined : this.store.event(eventId)?.pdu.content);
        visibilityByGroup.set(group, visibility);
      }
      return visibility;
    };
    const membershipAt = (group: number | null): string | undefined => {
      if (group === null) return undefined;
      if (!membershipByGroup.has(group)) {
        const eventId = this.store.stateEventIdAt(group, "m.room.member", userId);
        membershipByGroup.set(group, eventId === undefined ? undefined : membershipOf(this.store.event(eventId)));
      }
      return membershipByGroup.get(group);
    };
    return (row) => {
      const visibilityAfter = visibilityAt(row.state_group_after);
      const membershipAfter = membershipAt(row.state_group_after);
      const changesVisibility = row.type === "m.room.history_visibility" && row.state_key === "";
      const changesOwnMembership = row.type === "m.room.member" && row.state_key === userId;
      return mayUserSeeEvent({
        visibilityAfter,
        visibilityBefore: changesVisibility ? visibilityAt(row.state_group_before) : visibilityAfter,
        membershipAfter,
        membershipBefore: changesOwnMembership ? membershipAt(row.state_group_before) : membershipAfter,
        joinedSince: joinPositions.some((position) => position >= row.stream_ordering),
      });
    };
  }

  private serveRow(meta: RoomMeta, row: EventRow, requester: RoomRequester | undefined, now: number): ClientEvent {
    const event = this.store.eventFromRow(row);
    const replacedState = row.replaces_state === null ? undefined : this.store.event(row.replaces_state);
    const redaction = row.redacted_by === null ? undefined : this.store.row(row.redacted_by);
    const ownTransaction =
      requester !== undefined && row.txn_id !== null && row.sender === requester.userId && row.txn_device_id === requester.deviceId;
    return toClientEvent(
      {
        eventId: row.event_id,
        roomId: meta.roomId,
        pdu: event.pdu,
        ...(replacedState !== undefined ? { replacedState } : {}),
        ...(redaction !== undefined ? { redactedBecause: this.serveRow(meta, redaction, requester, now) } : {}),
        ...(ownTransaction && row.txn_id !== null ? { transactionId: row.txn_id } : {}),
      },
      meta.roomVersion,
      now,
    );
  }

  private serveEventIds(meta: RoomMeta, eventIds: Iterable<string>, requester: RoomRequester): ClientEvent[] {
    const now = Date.now();
    const rows: EventRow[] = [];
    for (const eventId of eventIds) {
      const row = this.store.row(eventId);
      if (row !== undefined) rows.push(row);
    }
    rows.sort((a, b) => a.stream_ordering - b.stream_ordering);
    return rows.map((row) => this.serveRow(meta, row, requester, now));
  }

  /** The state at a stream position (the current state when `position` is the newest). */
  private stateAt(position: number): StateEntry[] {
    if (position >= this.store.position) return this.store.currentStateEntries();
    const group = this.store.stateGroupAt(position);
    return group === undefined ? [] : this.store.stateEntriesAt(group);
  }

  /** The membership events of `senders` in the state after `row` (lazy-loading members, as Synapse). */
  private memberStateFor(meta: RoomMeta, row: EventRow, senders: ReadonlySet<string>, requester: RoomRequester): ClientEvent[] {
    const eventIds: string[] = [];
    for (const sender of senders) {
      const eventId = this.store.stateEventIdAt(row.state_group_after, "m.room.member", sender);
      if (eventId !== undefined) eventIds.push(eventId);
    }
    return this.serveEventIds(meta, eventIds, requester);
  }

  /**
   * Walks the timeline from `from` in one direction and collects up to `limit` events the filter and
   * the history visibility rules let through, looking at no more than MAX_SCANNED_EVENTS stored events.
   * `lastScanned` is the stream ordering of the last event looked at; `exhausted` whether the range ended.
   */
  private collect(
    direction: "b" | "f",
    from: number,
    bound: number,
    limit: number,
    accept: (row: EventRow) => boolean,
  ): { rows: EventRow[]; lastScanned: number | undefined; exhausted: boolean } {
    const rows: EventRow[] = [];
    let lastScanned: number | undefined;
    let scanned = 0;
    scanning: while (rows.length < limit && scanned < MAX_SCANNED_EVENTS) {
      const cursor = lastScanned === undefined ? from : direction === "b" ? lastScanned - 1 : lastScanned;
      const batch =
        direction === "b" ? this.store.rowsBackward(cursor, bound, SCAN_BATCH) : this.store.rowsForward(cursor, bound, SCAN_BATCH);
      if (batch.length === 0) return { rows, lastScanned, exhausted: true };
      for (const row of batch) {
        scanned += 1;
        lastScanned = row.stream_ordering;
        if (accept(row)) rows.push(row);
        if (rows.length >= limit || scanned >= MAX_SCANNED_EVENTS) break scanning;
      }
    }
    // Stream orderings have no gaps, so what is left backwards is known without a query.
    const more =
      lastScanned !== undefined &&
      (direction === "b" ? lastScanned - 1 > bound : this.store.rowsForward(lastScanned, bound, 1).length > 0);
    return { rows, lastScanned, exhausted: !more };
  }

  private eventAcceptor(meta: RoomMeta, filter: RoomEventFilter, userId: string): (row: EventRow) => boolean {
    const visible = this.visibilityFor(userId);
    const roomAllowed = filterAllowsRoom(filter, meta.roomId);
    return (row) => {
      if (!roomAllowed) return false;
      const { pdu } = this.store.eventFromRow(row);
      return matchesRoomEventFilter(filter, pdu) && visible(row);
    };
  }

  /** GET /messages. Positions: `from` b covers events at or before it; f covers events after it. */
  async getMessages(input: MessagesInput): Promise<RoomResult<MessagesPage>> {
    return respond(() => {
      const { meta, access } = this.readableRoom(input.roomId, input.requester.userId);
      const accept = this.eventAcceptor(meta, input.filter, input.requester.userId);
      const now = Date.now();
      let start: number;
      let collected: ReturnType<Room["collect"]>;
      if (input.direction === "b") {
        start = Math.min(input.from ?? access.upTo, access.upTo);
        const bound = Math.min(input.to ?? 0, start);
        collected = this.collect("b", start, bound, input.limit, accept);
      } else {
        start = Math.min(input.from ?? 0, access.upTo);
        const bound = Math.min(input.to ?? access.upTo, access.upTo);
        collected = this.collect("f", start, bound, input.limit, accept);
      }
      const { rows, lastScanned, exhausted } = collected;
      const page: MessagesPage = { chunk: rows.map((row) => this.serveRow(meta, row, input.requester, now)), start, state: [] };
      if (lastScanned !== undefined && !(input.direction === "b" && exhausted)) {
        page.end = input.direction === "b" ? lastScanned - 1 : lastScanned;
      }
      const first = rows[0];
      if (input.filter.lazy_load_members === true && first !== undefined) {
        page.state = this.memberStateFor(meta, first, new Set(rows.map((row) => row.sender)), input.requester);
      }
      return page;
    });
  }

  /** GET /context/{eventId}: the event, up to `limit` events around it, and the state at the last one. */
  async getContext(input: ContextInput): Promise<RoomResult<EventContext>> {
    return respond(() => {
      const { meta, access } = this.readableRoom(input.roomId, input.requester.userId);
      const row = this.store.row(input.eventId);
      if (row === undefined || row.stream_ordering > access.upTo || !this.visibilityFor(input.requester.userId)(row)) {
        throw notFound("Event not found");
      }
      const accept = this.eventAcceptor(meta, input.filter, input.requester.userId);
      const beforeLimit = Math.floor(input.limit / 2);
      const afterLimit = input.limit - beforeLimit;
      const before = beforeLimit > 0 ? this.collect("b", row.stream_ordering - 1, 0, beforeLimit, accept).rows : [];
      const after = afterLimit > 0 ? this.collect("f", row.stream_ordering, access.upTo, afterLimit, accept).rows : [];
      const oldest = before.at(-1) ?? row;
      const newest = after.at(-1) ?? row;
      const now = Date.now();
      const serve = (served: EventRow): ClientEvent => this.serveRow(meta, served, input.requester, now);
      let state: ClientEvent[];
      if (input.filter.lazy_load_members === true) {
        const senders = new Set([...before, row, ...after].map((served) => served.sender));
        state = this.memberStateFor(meta, newest, senders, input.requester);
      } else {
        state = this.serveEventIds(
          meta,
          this.store.stateEntriesAt(newest.state_group_after).map((entry) => entry.event_id),
          input.requester,
        );
      }
      return {
        event: serve(row),
        eventsBefore: before.map(serve),
        eventsAfter: after.map(serve),
        start: oldest.stream_ordering - 1,
        end: newest.stream_ordering,
        state,
      };
    });
  }

  /** GET /event/{eventId}: 404 both for unknown events and for events the user may not see, as the spec says. */
  async getEvent(roomId: string, requester: RoomRequester, eventId: string): Promise<RoomResult<ClientEvent>> {
    return respond(() => {
      let readable: { meta: RoomMeta; access: ReadAccess };
      try {
        readable = this.readableRoom(roomId, requester.userId);
      } catch {
        throw notFound("Event not found");
      }
      const row = this.store.row(eventId);
      if (row === undefined || row.stream_ordering > readable.access.upTo || !this.visibilityFor(requester.userId)(row)) {
        throw notFound("Event not found");
      }
      return this.serveRow(readable.meta, row, requester, Date.now());
    });
  }

  /** GET /state: the current state, or for users who left the state when they left. */
  async getState(roomId: string, requester: RoomRequester): Promise<RoomResult<ClientEvent[]>> {
    return respond(() => {
      const { meta, access } = this.readableRoom(roomId, requester.userId);
      return this.serveEventIds(
        meta,
        this.stateAt(access.upTo).map((entry) => entry.event_id),
        requester,
      );
    });
  }

  /** GET /state/{eventType}/{stateKey}. */
  async getStateEvent(roomId: string, requester: RoomRequester, type: string, stateKey: string): Promise<RoomResult<ClientEvent>> {
    return respond(() => {
      const { meta, access } = this.readableRoom(roomId, requester.userId);
      let eventId: string | undefined;
      if (access.upTo >= this.store.position) {
        eventId = this.store.currentStateEventId(type, stateKey);
      } else {
        const group = this.store.stateGroupAt(access.upTo);
        eventId = group === undefined ? undefined : this.store.stateEventIdAt(group, type, stateKey);
      }
      const [event] = eventId === undefined ? [] : this.serveEventIds(meta, [eventId], requester);
      if (event === undefined) throw notFound("Event not found");
      return event;
    });
  }

  /** GET /members: membership events at a point of the timeline, filtered by membership as the spec says ("or"). */
  async getMembers(input: MembersInput): Promise<RoomResult<ClientEvent[]>> {
    return respond(() => {
      const { meta, access } = this.readableRoom(input.roomId, input.requester.userId);
      const position = Math.min(input.at ?? access.upTo, access.upTo);
      const memberIds = this.stateAt(position)
        .filter((entry) => entry.type === "m.room.member")
        .map((entry) => entry.event_id);
      const wanted = (membership: string | undefined): boolean => {
        if (input.membership === undefined && input.notMembership === undefined) return true;
        return (
          (input.membership !== undefined && membership === input.membership) ||
          (input.notMembership !== undefined && membership !== input.notMembership)
        );
      };
      const members = memberIds.filter((eventId) => wanted(membershipOf(this.store.event(eventId))));
      return this.serveEventIds(meta, members, input.requester);
    });
  }

  /** GET /joined_members: only for current members (or anyone in a world-readable room). */
  async getJoinedMembers(roomId: string, requester: RoomRequester): Promise<RoomResult<Record<string, JoinedMember>>> {
    return respond(() => {
      const { access } = this.readableRoom(roomId, requester.userId);
      if (access.upTo < this.store.position) {
        throw forbidden("Getting joined members while not being a current member of the room is forbidden.");
      }
      const joined: Record<string, JoinedMember> = {};
      for (const entry of this.store.currentStateEntries("m.room.member")) {
        const event = this.store.event(entry.event_id);
        if (event === undefined || event.pdu.state_key === undefined || membershipOf(event) !== "join") continue;
        const member: JoinedMember = {};
        const displayName = event.pdu.content["displayname"];
        const avatarUrl = event.pdu.content["avatar_url"];
        if (typeof displayName === "string") member.display_name = displayName;
        if (typeof avatarUrl === "string") member.avatar_url = avatarUrl;
        joined[event.pdu.state_key] = member;
      }
      return joined;
    });
  }

  /** A user's membership and power in the room (for alias management, which lives outside the room). */
  async getStanding(roomId: string, userId: string, stateEventType: string): Promise<RoomStanding> {
    const meta = this.store.meta;
    if (meta === undefined || meta.roomId !== roomId) {
      return { membership: undefined, worldReadable: false, powerLevel: 0, requiredStateLevel: 0 };
    }
    const state: StateLookup = (type, stateKey) => this.store.currentStateEvent(type, stateKey);
    return {
      membership: membershipOf(this.store.currentStateEvent("m.room.member", userId)),
      worldReadable: this.currentHistoryVisibility() === "world_readable",
      powerLevel: getUserPowerLevel(userId, state, meta.roomVersion),
      requiredStateLevel: requiredPowerLevel(getPowerLevels(state, meta.roomVersion), stateEventType, true),
    };
  }

  // ---------------------------------------------------------------------------
  // Typing and receipts
  // ---------------------------------------------------------------------------

  private requireJoined(roomId: string, userId: string): RoomMeta {
    const meta = this.requireRoom(roomId);
    if (membershipOf(this.store.currentStateEvent("m.room.member", userId)) !== "join") {
      throw forbidden(`User ${userId} not in room ${roomId}`);
    }
    return meta;
  }

  private announceTyping(): void {
    for (const userId of this.joinedLocalUsers()) this.queueNotice(userId, { typing: true });
  }

  /** Drops expired typing notifications and sets a timer for the next expiry. */
  private expireTyping(): void {
    const now = Date.now();
    let changed = false;
    for (const [userId, until] of this.typingUntil) {
      if (until <= now) {
        this.typingUntil.delete(userId);
        changed = true;
      }
    }
    if (changed) {
      this.announceTyping();
      // Expiry runs from a timer, not a request that could wait for the delivery.
      void this.ctx.storage.setAlarm(Date.now());
    }
    if (this.typingTimer !== undefined) clearTimeout(this.typingTimer);
    this.typingTimer = undefined;
    if (this.typingUntil.size > 0) {
      const next = Math.min(...this.typingUntil.values());
      this.typingTimer = setTimeout(() => this.expireTyping(), Math.max(0, next - now));
    }
  }

  /** PUT /typing: typing notifications live in memory only and expire by themselves. */
  async setTyping(input: TypingInput): Promise<RoomResult<Record<string, never>>> {
    const result = await respond(() => {
      this.requireJoined(input.roomId, input.userId);
      const wasTyping = this.typingUntil.has(input.userId);
      if (input.typing) this.typingUntil.set(input.userId, Date.now() + Math.min(Math.max(input.timeoutMs, 0), MAX_TYPING_MS));
      else this.typingUntil.delete(input.userId);
      if (wasTyping !== input.typing) this.announceTyping();
      this.expireTyping();
      return {};
    });
    await this.deliverNotices();
    return result;
  }

  private typingUsers(): string[] {
    const now = Date.now();
    return [...this.typingUntil].filter(([, until]) => until > now).map(([userId]) => userId).sort();
  }

  /** POST /receipt: a receipt moves forward only; private receipts are shown to their owner alone. */
  async postReceipt(input: ReceiptInput): Promise<RoomResult<Record<string, never>>> {
    const result = await respond(() => {
      const { userId } = input.requester;
      this.requireJoined(input.roomId, userId);
      const row = this.store.row(input.eventId);
      if (row === undefined || !this.visibilityFor(userId)(row)) throw notFound("Event not found");
      if (input.threadId !== undefined && input.threadId !== "main" && this.store.row(input.threadId) === undefined) {
        throw invalidParam("thread_id is neither `main` nor an event of this room");
      }
      const position = this.store.putReceipt({
        user_id: userId,
        receipt_type: input.receiptType,
        thread_id: input.threadId ?? "",
        event_id: input.eventId,
        event_stream_ordering: row.stream_ordering,
        ts: Date.now(),
      });
      if (position === undefined) return {};
      const audience = input.receiptType === "m.read.private" ? [userId] : this.joinedLocalUsers();
      for (const member of audience) this.queueNotice(member, { receiptsPosition: position });
      return {};
    });
    await this.deliverNotices();
    return result;
  }

  // ---------------------------------------------------------------------------
  // Sync
  // ---------------------------------------------------------------------------

  private membershipAt(userId: string, position: number): { membership: string | undefined; event: EventRow | undefined } {
    let eventId: string | undefined;
    if (position >= this.store.position) {
      eventId = this.store.currentStateEventId("m.room.member", userId);
    } else {
      const group = this.store.stateGroupAt(position);
      eventId = group === undefined ? undefined : this.store.stateEventIdAt(group, "m.room.member", userId);
    }
    const event = eventId === undefined ? undefined : this.store.row(eventId);
    return { membership: event?.membership ?? undefined, event };
  }

  /** The unread_notifications counts: events after the user's read receipt that the default push rules notify for. */
  private unreadNotifications(meta: RoomMeta, userId: string, upTo: number): { notification_count: number; highlight_count: number } {
    const joinedAt = this.store.joinPositions(userId).at(-1) ?? 0;
    const readUpTo = Math.max(this.store.readUpTo(userId), joinedAt);
    let counted = this.unreadCounts.get(userId);
    if (counted === undefined || counted.readUpTo !== readUpTo || counted.countedUpTo > upTo) {
      counted = { readUpTo, countedUpTo: readUpTo, notifications: 0, highlights: 0 };
    }
    if (counted.countedUpTo < upTo && counted.notifications < MAX_COUNTED_UNREAD) {
      const state: StateLookup = (type, stateKey) => this.store.currentStateEvent(type, stateKey);
      const powerLevels = getPowerLevels(state, meta.roomVersion);
      const rules = defaultPushRules(userId);
      const displayName = this.store.currentStateEvent("m.room.member", userId)?.pdu.content["displayname"];
      const memberCount = this.joinedLocalUsers().size + this.remoteJoinedCount();
      const rows = this.store.rowsForward(counted.countedUpTo, upTo, MAX_COUNTED_UNREAD);
      for (const row of rows) {
        if (row.sender !== userId) {
          const { pdu } = this.store.eventFromRow(row);
          const outcome = evaluatePushRules(
            rules,
            { ...pdu, room_id: meta.roomId, event_id: row.event_id },
            {
              userId,
              ...(typeof displayName === "string" ? { displayName } : {}),
              roomMemberCount: memberCount,
              senderPowerLevel: getUserPowerLevel(row.sender, state, meta.roomVersion),
              notificationPowerLevels: { room: notificationPowerLevel(powerLevels, "room") ?? 50 },
            },
          );
          if (outcome.notify) counted.notifications += 1;
          if (outcome.highlight) counted.highlights += 1;
        }
        counted.countedUpTo = row.stream_ordering;
      }
      counted.countedUpTo = Math.max(counted.countedUpTo, rows.length < MAX_COUNTED_UNREAD ? upTo : counted.countedUpTo);
    }
    this.unreadCounts.set(userId, counted);
    return { notification_count: counted.notifications, highlight_count: counted.highlights };
  }

  /** Members on other servers (none until federation); kept apart so member counts stay honest. */
  private remoteJoinedCount(): number {
    let count = 0;
    for (const entry of this.store.currentStateEntries("m.room.member")) {
      if (!this.isLocalUser(entry.state_key) && membershipOf(this.store.event(entry.event_id)) === "join") count += 1;
    }
    return count;
  }

  private summaryAt(position: number, userId: string): ReturnType<typeof roomSummary> {
    const members = this.stateAt(position)
      .filter((entry) => entry.type === "m.room.member")
      .map((entry) => ({ userId: entry.state_key, membership: membershipOf(this.store.event(entry.event_id)) ?? "leave" }));
    return roomSummary(members, userId);
  }

  /**
   * One room's part of a user's sync: the timeline in (events.from, events.to], the state the client
   * needs besides it, typing and receipts, all as the user may see them.
   */
  async syncRoom(request: RoomSyncRequest): Promise<RoomResult<RoomSyncResult>> {
    return respond(() => {
      const meta = this.requireRoom(request.roomId);
      const requester: RoomRequester = { userId: request.userId, deviceId: request.deviceId, isGuest: false };
      const to = Math.min(request.events?.to ?? this.store.position, this.store.position);
      const { membership = request.membership, event: membershipEvent } = this.membershipAt(request.userId, to);
      if (membershipEvent !== undefined && (membership === "leave" || membership === "ban") && this.store.hasForgotten(request.userId, membershipEvent.stream_ordering)) {
        return { membership: "forgotten", ephemeral: [] };
      }
      const now = Date.now();

      if (membership === "invite" || membership === "knock") {
        const strippedState = this.stateAt(to)
          .filter((entry) => STRIPPED_STATE_TYPES.has(entry.type))
          .map((entry) => this.store.event(entry.event_id))
          .filter((event): event is StoredEvent => event !== undefined)
          .map((event) => strippedStateEvent(event.pdu));
        if (membershipEvent !== undefined) strippedState.push(strippedStateEvent(this.store.eventFromRow(membershipEvent).pdu));
        return { membership, strippedState, ephemeral: [] };
      }

      const from = request.events?.from ?? to;
      const timelineAccept = this.eventAcceptor(meta, request.timelineFilter, request.userId);
      const collected = this.collect("b", to, from, request.timelineLimit, timelineAccept);
      const timelineRows = collected.rows.reverse();
      const limited = !collected.exhausted;
      const first = timelineRows[0];
      const timelineStart = first === undefined ? to : first.stream_ordering - 1;

      const lazyMembers = request.stateFilter.lazy_load_members === true || request.timelineFilter.lazy_load_members === true;
      const includeRedundantMembers =
        request.stateFilter.include_redundant_members === true || request.timelineFilter.include_redundant_members === true;
      // A room the user has just joined (or rejoined) starts from its full state, like an initial sync of it.
      const fullState = request.fullState || (membership === "join" && this.membershipAt(request.userId, from).membership !== "join");
      const membersSent = lazyMembers && !includeRedundantMembers ? this.lazyMembersSentTo(request, fullState) : undefined;
      const inTimeline = new Set(timelineRows.map((row) => row.event_id));
      const wantedState = (entry: StateEntry): boolean => {
        if (inTimeline.has(entry.event_id)) return false;
        const event = this.store.event(entry.event_id);
        if (event === undefined || !matchesRoomEventFilter(request.stateFilter, event.pdu)) return false;
        if (lazyMembers && entry.type === "m.room.member") {
          // Redundant only if the client has that response: it syncs from a token at or after it.
          const sent = membersSent?.get(entry.state_key);
          if (sent !== undefined && sent.eventId === entry.event_id && sent.upTo <= from) return false;
          return entry.state_key === request.userId || timelineRows.some((row) => row.sender === entry.state_key);
        }
        return true;
      };
      let stateIds: string[];
      if (fullState) {
        stateIds = this.stateAt(timelineStart).filter(wantedState).map((entry) => entry.event_id);
      } else if (limited) {
        // The state changed by events the timeline skipped: what differs between `from` and the timeline's start.
        const before = new Set(this.stateAt(from).map((entry) => entry.event_id));
        stateIds = this.stateAt(timelineStart)
          .filter((entry) => !before.has(entry.event_id) || (lazyMembers && entry.type === "m.room.member"))
          .filter(wantedState)
          .map((entry) => entry.event_id);
      } else {
        stateIds = lazyMembers
          ? this.stateAt(timelineStart).filter((entry) => entry.type === "m.room.member").filter(wantedState).map((entry) => entry.event_id)
          : [];
      }

      const ephemeral: EphemeralEvent[] = [];
      if (membership === "join") {
        if (request.typing) ephemeral.push({ type: "m.typing", content: { user_ids: this.typingUsers() } });
        if (request.receipts !== undefined) {
          const receipts = this.store
            .receiptsBetween(request.receipts.from, request.receipts.to)
            .filter((receipt) => receipt.receipt_type !== "m.read.private" || receipt.user_id === request.userId)
            .map((receipt) => ({
              userId: receipt.user_id,
              receiptType: receipt.receipt_type,
              threadId: receipt.thread_id,
              eventId: receipt.event_id,
              ts: receipt.ts,
            }));
          if (receipts.length > 0) ephemeral.push(receiptEvent(receipts));
        }
      }

      if (membersSent !== undefined) {
        for (const eventId of stateIds) {
          const event = this.store.event(eventId);
          if (event?.pdu.type === "m.room.member" && event.pdu.state_key !== undefined) {
            membersSent.set(event.pdu.state_key, { eventId, upTo: to });
          }
        }
        for (const row of timelineRows) {
          if (row.type === "m.room.member" && row.state_key !== null) membersSent.set(row.state_key, { eventId: row.event_id, upTo: to });
        }
      }

      const membersChanged = fullState || timelineRows.some((row) => row.type === "m.room.member");
      return {
        membership,
        timeline: {
          events: timelineRows.map((row) => this.serveRow(meta, row, requester, now)),
          limited,
          prevBatch: encodeRoomToken(timelineStart),
        },
        state: this.serveEventIds(meta, stateIds, requester),
        ephemeral,
        ...(membership === "join" && membersChanged ? { summary: this.summaryAt(to, request.userId) } : {}),
        ...(membership === "join" ? { unreadNotifications: this.unreadNotifications(meta, request.userId, to) } : {}),
      };
    });
  }

  /**
   * The member events this device was sent already, as far as this object remembers; a full-state
   * sync starts the record afresh, since the client then rebuilds its view of the room.
   */
  private lazyMembersSentTo(request: RoomSyncRequest, fullState: boolean): Map<string, SentMember> {
    const key = `${request.userId}\n${request.deviceId}`;
    const known = fullState ? undefined : this.lazyMembersSent.get(key);
    const record = known ?? new Map<string, SentMember>();
    // Re-inserting keeps the map in least-recently-used order.
    this.lazyMembersSent.delete(key);
    this.lazyMembersSent.set(key, record);
    if (this.lazyMembersSent.size > MAX_LAZY_MEMBER_RECORDS) {
      const oldest = this.lazyMembersSent.keys().next().value;
      if (oldest !== undefined) this.lazyMembersSent.delete(oldest);
    }
    return record;
  }

  /** For the admin API: the room's forward extremities with their depth and state group. */
  async getForwardExtremities(roomId: string): Promise<RoomResult<ForwardExtremity[]>> {
    return respond(() => {
      this.requireRoom(roomId);
      return this.store.forwardExtremities().map((event) => ({
        event_id: event.eventId,
        state_group: this.store.row(event.eventId)?.state_group_after ?? 0,
        depth: event.pdu.depth,
        // Every event here was created locally, so it was received when it was sent.
        received_ts: event.pdu.origin_server_ts,
      }));
    });
  }
}
