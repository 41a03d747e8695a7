/**
 * The Room Durable Object's SQLite storage: the event graph, state groups, current state, forward
 * extremities and the room's stream ordering.
 *
 * - `events`: every event of the room in stream order (`stream_ordering` 1, 2, 3, ...), with the
 *   state group before and after it. A redaction replaces the stored PDU by its redacted form: the
 *   original content is not kept. Signatures still verify on the redacted form, and its content hash
 *   no longer matching is how other servers recognise it as redacted.
 * - State groups: the state after an event is a group stored as a delta over an earlier group; a
 *   chain of deltas is cut with a full snapshot every {@link MAX_DELTA_CHAIN} groups, so reading the
 *   state at any event stays bounded.
 * - `current_state` mirrors the newest state group for constant-time lookups on the write path.
 * - `membership_index_outbox` holds membership changes not yet written to Postgres.
 * - `notice_marks` records up to which event and receipt positions every member's sync stream was told.
 */
import { referencedEventId } from "../src/core/auth/auth-events";
import type { PDU, StoredEvent } from "../src/core/events/pdu";
import { redactEvent } from "../src/core/events/redaction";
import { getRoomVersion, type RoomVersion } from "../src/core/room-versions";

const MAX_DELTA_CHAIN = 100;
const EVENT_CACHE_SIZE = 2000;

const SCHEMA = [
  `CREATE TABLE IF NOT EXISTS room (
    singleton INTEGER PRIMARY KEY CHECK (singleton = 1),
    room_id TEXT NOT NULL,
    room_version TEXT NOT NULL,
    current_state_group INTEGER
  )`,
  `CREATE TABLE IF NOT EXISTS events (
    stream_ordering INTEGER PRIMARY KEY,
    event_id TEXT NOT NULL UNIQUE,
    type TEXT NOT NULL,
    state_key TEXT,
    sender TEXT NOT NULL,
    membership TEXT,
    json TEXT NOT NULL,
    state_group_before INTEGER,
    state_group_after INTEGER NOT NULL,
    replaces_state TEXT,
    redacted_by TEXT,
    txn_device_id TEXT,
    txn_id TEXT
  )`,
  `CREATE UNIQUE INDEX IF NOT EXISTS events_by_transaction ON events (sender, txn_device_id, txn_id) WHERE txn_id IS NOT NULL`,
  `CREATE INDEX IF NOT EXISTS events_by_member ON events (state_key, stream_ordering) WHERE type = 'm.room.member'`,
  `CREATE TABLE IF NOT EXISTS forward_extremities (event_id TEXT PRIMARY KEY)`,
  `CREATE TABLE IF NOT EXISTS state_groups (
    id INTEGER PRIMARY KEY,
    prev_group INTEGER,
    chain_length INTEGER NOT NULL
  )`,
  `CREATE TABLE IF NOT EXISTS state_group_entries (
    state_group INTEGER NOT NULL,
    type TEXT NOT NULL,
    state_key TEXT NOT NULL,
    event_id TEXT NOT NULL,
    PRIMARY KEY (state_group, type, state_key)
  )`,
  `CREATE TABLE IF NOT EXISTS current_state (
    type TEXT NOT NULL,
    state_key TEXT NOT NULL,
    event_id TEXT NOT NULL,
    PRIMARY KEY (type, state_key)
  )`,
  `CREATE TABLE IF NOT EXISTS forgotten (user_id TEXT PRIMARY KEY, membership_stream INTEGER NOT NULL)`,
  `CREATE TABLE IF NOT EXISTS receipts (
    user_id TEXT NOT NULL,
    receipt_type TEXT NOT NULL,
    thread_id TEXT NOT NULL,
    event_id TEXT NOT NULL,
    event_stream_ordering INTEGER NOT NULL,
    ts INTEGER NOT NULL,
    position INTEGER NOT NULL UNIQUE,
    PRIMARY KEY (user_id, receipt_type, thread_id)
  )`,
  `CREATE TABLE IF NOT EXISTS notice_marks (
    singleton INTEGER PRIMARY KEY CHECK (singleton = 1),
    events_position INTEGER NOT NULL,
    receipts_position INTEGER NOT NULL
  )`,
  `CREATE TABLE IF NOT EXISTS membership_index_outbox (
    id INTEGER PRIMARY KEY,
    user_id TEXT NOT NULL,
    membership TEXT NOT NULL,
    event_id TEXT NOT NULL,
    stream_ordering INTEGER NOT NULL,
    forgotten INTEGER NOT NULL
  )`,
];

export type EventRow = {
  stream_ordering: number;
  event_id: string;
  type: string;
  state_key: string | null;
  sender: string;
  membership: string | null;
  json: string;
  state_group_before: number | null;
  state_group_after: number;
  replaces_state: string | null;
  redacted_by: string | null;
  txn_device_id: string | null;
  txn_id: string | null;
};

export type ReceiptRow = {
  user_id: string;
  receipt_type: string;
  /** `main` or a thread root's event ID for threaded receipts; empty for unthreaded ones. */
  thread_id: string;
  event_id: string;
  event_stream_ordering: number;
  ts: number;
  position: number;
};

export type OutboxRow = {
  id: number;
  user_id: string;
  membership: string;
  event_id: string;
  stream_ordering: number;
  forgotten: number;
};

/** One piece of room state: the event holding `(type, state_key)`. */
export type StateEntry = { type: string; state_key: string; event_id: string };

export interface RoomMeta {
  roomId: string;
  roomVersion: RoomVersion;
}

/** An event accepted for persisting, with what the store must record alongside it. */
export interface AcceptedEvent {
  event: StoredEvent;
  transaction?: { deviceId: string; txnId: string };
  /** Set for redactions that are to be applied to an event of this room. */
  redactionTarget?: string;
}

function membershipOf(pdu: PDU): string | null {
  if (pdu.type !== "m.room.member") return null;
  const membership = pdu.content["membership"];
  return typeof membership === "string" ? membership : null;
}

export class RoomStore {
  private metaCache: RoomMeta | undefined;
  private currentGroup: number | null = null;
  private lastStream = 0;
  /** Parsed events by ID, most recently used last. Events only change when redacted, which updates this. */
  private readonly eventCache = new Map<string, StoredEvent>();

  private readonly sql: SqlStorage;

  constructor(private readonly storage: DurableObjectStorage) {
    this.sql = storage.sql;
    this.loadMeta();
  }

  private loadMeta(): void {
    this.metaCache = undefined;
    this.currentGroup = null;
    this.lastStream = 0;
    // Reading sqlite_master creates no storage: probing an unknown room ID must leave nothing behind.
    const exists = this.sql.exec("SELECT name FROM sqlite_master WHERE type = 'table' AND name = 'room'").toArray().length > 0;
    if (!exists) return;
    const row = this.sql
      .exec<{ room_id: string; room_version: string; current_state_group: number | null }>(
        "SELECT room_id, room_version, current_state_group FROM room",
      )
      .toArray()[0];
    if (row === undefined) return;
    const roomVersion = getRoomVersion(row.room_version);
    if (roomVersion === undefined) throw new Error(`room ${row.room_id} has unknown version ${row.room_version}`);
    this.metaCache = { roomId: row.room_id, roomVersion };
    // Tables added after a room was created come into being here (every statement is IF NOT EXISTS).
    for (const statement of SCHEMA) this.sql.exec(statement);
    this.currentGroup = row.current_state_group;
    this.lastStream = this.sql.exec<{ last: number | null }>("SELECT MAX(stream_ordering) AS last FROM events").one().last ?? 0;
    // Rooms from before the marks existed had told their members everything.
    this.sql.exec("INSERT OR IGNORE INTO notice_marks VALUES (1, ?, ?)", this.lastStream, this.receiptPosition);
  }

  /** The room this object holds, or undefined if no room was created here. */
  get meta(): RoomMeta | undefined {
    return this.metaCache;
  }

  /** The stream position of the newest event. */
  get position(): number {
    return this.lastStream;
  }

  /** Creates the tables and records the room, inside the transaction that persists its first events. */
  private initialize(roomId: string, roomVersion: RoomVersion): void {
    for (const statement of SCHEMA) this.sql.exec(statement);
    this.sql.exec("INSERT INTO room (singleton, room_id, room_version) VALUES (1, ?, ?)", roomId, roomVersion.id);
    this.sql.exec("INSERT INTO notice_marks VALUES (1, 0, 0)");
    this.metaCache = { roomId, roomVersion };
  }

  // -------------------------------------------------------------------------
  // Events
  // -------------------------------------------------------------------------

  row(eventId: string): EventRow | undefined {
    return this.sql.exec<EventRow>("SELECT * FROM events WHERE event_id = ?", eventId).toArray()[0];
  }

  /** Up to `limit` rows after `after` (exclusive) and up to `upTo` (inclusive), oldest first. */
  rowsForward(after: number, upTo: number, limit: number): EventRow[] {
    return this.sql
      .exec<EventRow>(
        "SELECT * FROM events WHERE stream_ordering > ? AND stream_ordering <= ? ORDER BY stream_ordering ASC LIMIT ?",
        after,
        upTo,
        limit,
      )
      .toArray();
  }

  /** Up to `limit` rows at or before `from` and after `above` (exclusive), newest first. */
  rowsBackward(from: number, above: number, limit: number): EventRow[] {
    return this.sql
      .exec<EventRow>(
        "SELECT * FROM events WHERE stream_ordering <= ? AND stream_ordering > ? ORDER BY stream_ordering DESC LIMIT ?",
        from,
        above,
        limit,
      )
      .toArray();
  }

  eventFromRow(row: EventRow): StoredEvent {
    const cached = this.eventCache.get(row.event_id);
    if (cached !== undefined) return cached;
    const event: StoredEvent = { eventId: row.event_id, pdu: JSON.parse(row.json) as PDU };
    this.remember(event);
    return event;
  }

  event(eventId: string): StoredEvent | undefined {
    const cached = this.eventCache.get(eventId);
    if (cached !== undefined) {
      this.eventCache.delete(eventId);
      this.eventCache.set(eventId, cached);
      return cached;
    }
    const row = this.sql.exec<{ json: string }>("SELECT json FROM events WHERE event_id = ?", eventId).toArray()[0];
    if (row === undefined) return undefined;
    const event: StoredEvent = { eventId, pdu: JSON.parse(row.json) as PDU };
    this.remember(event);
    return event;
  }

  private remember(event: StoredEvent): void {
    this.eventCache.set(event.eventId, event);
    if (this.eventCache.size > EVENT_CACHE_SIZE) {
      const oldest = this.eventCache.keys().next().value;
      if (oldest !== undefined) this.eventCache.delete(oldest);
    }
  }

  /** The event a device already sent with this transaction ID, if any. */
  transactionEventId(userId: string, deviceId: string, txnId: string): string | undefined {
    return this.sql
      .exec<{ event_id: string }>(
        "SELECT event_id FROM events WHERE sender = ? AND txn_device_id = ? AND txn_id = ?",
        userId,
        deviceId,
        txnId,
      )
      .toArray()[0]?.event_id;
  }

  forwardExtremities(): StoredEvent[] {
    return this.sql
      .exec<{ event_id: string }>("SELECT event_id FROM forward_extremities")
      .toArray()
      .map((row) => this.event(row.event_id))
      .filter((event): event is StoredEvent => event !== undefined);
  }

  /** Stream positions of the user's membership events with membership `join`, ascending. */
  joinPositions(userId: string): number[] {
    return this.sql
      .exec<{ stream_ordering: number }>(
        "SELECT stream_ordering FROM events WHERE type = 'm.room.member' AND state_key = ? AND membership = 'join' ORDER BY stream_ordering",
        userId,
      )
      .toArray()
      .map((row) => row.stream_ordering);
  }

  // -------------------------------------------------------------------------
  // State
  // -------------------------------------------------------------------------

  currentStateEventId(type: string, stateKey: string): string | undefined {
    return this.sql
      .exec<{ event_id: string }>("SELECT event_id FROM current_state WHERE type = ? AND state_key = ?", type, stateKey)
      .toArray()[0]?.event_id;
  }

  currentStateEvent(type: string, stateKey: string): StoredEvent | undefined {
    const eventId = this.currentStateEventId(type, stateKey);
    return eventId === undefined ? undefined : this.event(eventId);
  }

  /** The current state, optionally of one event type only. */
  currentStateEntries(type?: string): StateEntry[] {
    return type === undefined
      ? this.sql.exec<StateEntry>("SELECT type, state_key, event_id FROM current_state").toArray()
      : this.sql.exec<StateEntry>("SELECT type, state_key, event_id FROM current_state WHERE type = ?", type).toArray();
  }

  /** Every user whose current membership is `join`, on any server. */
  joinedMembers(): string[] {
    return this.sql
      .exec<{ state_key: string }>(
        `SELECT current_state.state_key FROM current_state JOIN events ON events.event_id = current_state.event_id
         WHERE current_state.type = 'm.room.member' AND events.membership = 'join'`,
      )
      .toArray()
      .map((row) => row.state_key);
  }

  /** The state group after the newest event at or before `position`. */
  stateGroupAt(position: number): number | undefined {
    return this.sql
      .exec<{ state_group_after: number }>(
        "SELECT state_group_after FROM events WHERE stream_ordering <= ? ORDER BY stream_ordering DESC LIMIT 1",
        position,
      )
      .toArray()[0]?.state_group_after;
  }

  private static readonly CHAIN = `WITH RECURSIVE chain(id, distance) AS (
      SELECT ?, 0
      UNION ALL
      SELECT g.prev_group, chain.distance + 1 FROM state_groups g JOIN chain ON g.id = chain.id WHERE g.prev_group IS NOT NULL
    )`;

  /** The full state of a group. */
  stateEntriesAt(group: number): StateEntry[] {
    // With MIN() SQLite takes the bare columns from the row holding the minimum: the nearest delta wins.
    return this.sql
      .exec<StateEntry & { distance: number }>(
        `${RoomStore.CHAIN}
        SELECT e.type, e.state_key, e.event_id, MIN(chain.distance) AS distance
        FROM state_group_entries e JOIN chain ON e.state_group = chain.id
        GROUP BY e.type, e.state_key`,
        group,
      )
      .toArray();
  }

  stateEventIdAt(group: number, type: string, stateKey: string): string | undefined {
    return this.sql
      .exec<{ event_id: string }>(
        `${RoomStore.CHAIN}
        SELECT e.event_id FROM state_group_entries e JOIN chain ON e.state_group = chain.id
        WHERE e.type = ? AND e.state_key = ?
        ORDER BY chain.distance LIMIT 1`,
        group,
        type,
        stateKey,
      )
      .toArray()[0]?.event_id;
  }

  private newStateGroup(prevGroup: number | null, type: string, stateKey: string, eventId: string): number {
    let prevChain = -1;
    if (prevGroup !== null) {
      prevChain = this.sql.exec<{ chain_length: number }>("SELECT chain_length FROM state_groups WHERE id = ?", prevGroup).one()
        .chain_length;
    }
    const snapshot = prevGroup === null || prevChain + 1 >= MAX_DELTA_CHAIN;
    const entries: StateEntry[] = snapshot && prevGroup !== null ? this.stateEntriesAt(prevGroup) : [];
    entries.push({ type, state_key: stateKey, event_id: eventId });
    const group = this.sql
      .exec<{ id: number }>(
        "INSERT INTO state_groups (prev_group, chain_length) VALUES (?, ?) RETURNING id",
        snapshot ? null : prevGroup,
        snapshot ? 0 : prevChain + 1,
      )
      .one().id;
    for (const entry of entries) {
      this.sql.exec(
        "INSERT OR REPLACE INTO state_group_entries (state_group, type, state_key, event_id) VALUES (?, ?, ?, ?)",
        group,
        entry.type,
        entry.state_key,
        entry.event_id,
      );
    }
    return group;
  }

  // -------------------------------------------------------------------------
  // Writing
  // -------------------------------------------------------------------------

  /**
   * Persists accepted events atomically, in order: each gets the next stream ordering, its state
   * groups, the forward extremities move to it, state events update the current state, membership
   * events are queued for the Postgres index, and redactions are applied.
   */
  persist(accepted: readonly AcceptedEvent[], initialize?: { roomId: string; roomVersion: RoomVersion }): void {
    let stream = this.lastStream;
    let group = this.currentGroup;
    const redacted: StoredEvent[] = [];
    this.transaction(() => {
      if (initialize !== undefined) this.initialize(initialize.roomId, initialize.roomVersion);
      const meta = this.metaCache;
      if (meta === undefined) throw new Error("persisting events into a room that does not exist");
      for (const { event, transaction, redactionTarget } of accepted) {
        const { pdu } = event;
        stream += 1;
        const before = group;
        let replaces: string | null = null;
        if (pdu.state_key !== undefined) {
          replaces = this.currentStateEventId(pdu.type, pdu.state_key) ?? null;
          group = this.newStateGroup(group, pdu.type, pdu.state_key, event.eventId);
          this.sql.exec(
            "INSERT OR REPLACE INTO current_state (type, state_key, event_id) VALUES (?, ?, ?)",
            pdu.type,
            pdu.state_key,
            event.eventId,
          );
        }
        if (group === null) throw new Error("the first event of a room must be a state event");
        const membership = membershipOf(pdu);
        this.sql.exec(
          `INSERT INTO events (stream_ordering, event_id, type, state_key, sender, membership, json, state_group_before,
             state_group_after, replaces_state, txn_device_id, txn_id)
           VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
          stream,
          event.eventId,
          pdu.type,
          pdu.state_key ?? null,
          pdu.sender,
          membership,
          JSON.stringify(pdu),
          before,
          group,
          replaces,
          transaction?.deviceId ?? null,
          transaction?.txnId ?? null,
        );
        for (const previous of pdu.prev_events) {
          this.sql.exec("DELETE FROM forward_extremities WHERE event_id = ?", referencedEventId(previous));
        }
        this.sql.exec("INSERT INTO forward_extremities (event_id) VALUES (?)", event.eventId);
        if (membership !== null && pdu.state_key !== undefined) {
          this.sql.exec(
            "INSERT INTO membership_index_outbox (user_id, membership, event_id, stream_ordering, forgotten) VALUES (?, ?, ?, ?, 0)",
            pdu.state_key,
            membership,
            event.eventId,
            stream,
          );
          this.sql.exec("DELETE FROM forgotten WHERE user_id = ?", pdu.state_key);
        }
        if (redactionTarget !== undefined) {
          const target = this.event(redactionTarget);
          if (target !== undefined && this.row(redactionTarget)?.redacted_by === null) {
            const redactedPdu = redactEvent(target.pdu, meta.roomVersion);
            this.sql.exec(
              "UPDATE events SET json = ?, redacted_by = ? WHERE event_id = ?",
              JSON.stringify(redactedPdu),
              event.eventId,
              redactionTarget,
            );
            redacted.push({ eventId: redactionTarget, pdu: redactedPdu });
          }
        }
      }
      this.sql.exec("UPDATE room SET current_state_group = ?", group);
    });
    this.lastStream = stream;
    this.currentGroup = group;
    for (const event of accepted) this.remember(event.event);
    for (const event of redacted) this.remember(event);
  }

  /** Runs `work` as one SQLite transaction; on failure nothing is written and the in-memory view is reloaded. */
  private transaction(work: () => void): void {
    try {
      this.storage.transactionSync(work);
    } catch (error) {
      this.eventCache.clear();
      this.loadMeta();
      throw error;
    }
  }

  // -------------------------------------------------------------------------
  // Forgetting, the membership index outbox and the sync notice marks
  // -------------------------------------------------------------------------

  /** Whether the user forgot the room since their current membership event. */
  hasForgotten(userId: string, membershipStream: number): boolean {
    const row = this.sql
      .exec<{ membership_stream: number }>("SELECT membership_stream FROM forgotten WHERE user_id = ?", userId)
      .toArray()[0];
    return row !== undefined && row.membership_stream === membershipStream;
  }

  forget(userId: string, membershipEvent: EventRow): void {
    this.storage.transactionSync(() => {
      this.sql.exec(
        "INSERT OR REPLACE INTO forgotten (user_id, membership_stream) VALUES (?, ?)",
        userId,
        membershipEvent.stream_ordering,
      );
      this.sql.exec(
        "INSERT INTO membership_index_outbox (user_id, membership, event_id, stream_ordering, forgotten) VALUES (?, ?, ?, ?, 1)",
        userId,
        membershipEvent.membership ?? "leave",
        membershipEvent.event_id,
        membershipEvent.stream_ordering,
      );
    });
  }

  /** Up to which event and receipt positions every member's sync stream has been told. */
  noticeMarks(): { events: number; receipts: number } {
    if (this.metaCache === undefined) return { events: 0, receipts: 0 };
    return this.sql
      .exec<{ events: number; receipts: number }>("SELECT events_position AS events, receipts_position AS receipts FROM notice_marks")
      .one();
  }

  markNoticesDelivered(events: number, receipts: number): void {
    this.sql.exec(
      "UPDATE notice_marks SET events_position = MAX(events_position, ?), receipts_position = MAX(receipts_position, ?)",
      events,
      receipts,
    );
  }

  pendingIndexUpdates(): OutboxRow[] {
    if (this.metaCache === undefined) return [];
    return this.sql.exec<OutboxRow>("SELECT * FROM membership_index_outbox ORDER BY id").toArray();
  }

  clearIndexUpdates(upToId: number): void {
    this.sql.exec("DELETE FROM membership_index_outbox WHERE id <= ?", upToId);
  }

  // -------------------------------------------------------------------------
  // Receipts
  // -------------------------------------------------------------------------

  /** The newest receipt position (0 before the first receipt). */
  get receiptPosition(): number {
    return this.sql.exec<{ position: number | null }>("SELECT MAX(position) AS position FROM receipts").one().position ?? 0;
  }

  /**
   * Records a receipt unless it would move the user's receipt of that type and thread backwards.
   * Returns the new receipt position, or undefined when nothing changed.
   */
  putReceipt(receipt: Omit<ReceiptRow, "position">): number | undefined {
    const existing = this.sql
      .exec<{ event_stream_ordering: number }>(
        "SELECT event_stream_ordering FROM receipts WHERE user_id = ? AND receipt_type = ? AND thread_id = ?",
        receipt.user_id,
        receipt.receipt_type,
        receipt.thread_id,
      )
      .toArray()[0];
    if (existing !== undefined && existing.event_stream_ordering >= receipt.event_stream_ordering) return undefined;
    const position = this.receiptPosition + 1;
    this.sql.exec(
      `INSERT INTO receipts (user_id, receipt_type, thread_id, event_id, event_stream_ordering, ts, position)
       VALUES (?, ?, ?, ?, ?, ?, ?)
       ON CONFLICT (user_id, receipt_type, thread_id) DO UPDATE SET event_id = excluded.event_id,
         event_stream_ordering = excluded.event_stream_ordering, ts = excluded.ts, position = excluded.position`,
      receipt.user_id,
      receipt.receipt_type,
      receipt.thread_id,
      receipt.event_id,
      receipt.event_stream_ordering,
      receipt.ts,
      position,
    );
    return position;
  }

  /** Receipts changed after position `from` up to `to`. */
  receiptsBetween(from: number, to: number): ReceiptRow[] {
    return this.sql
      .exec<ReceiptRow>("SELECT * FROM receipts WHERE position > ? AND position <= ? ORDER BY position", from, to)
      .toArray();
  }

  /** The stream ordering of the newest event the user has read (public or private receipt, any thread). */
  readUpTo(userId: string): number {
    return (
      this.sql
        .exec<{ ordering: number | null }>(
          "SELECT MAX(event_stream_ordering) AS ordering FROM receipts WHERE user_id = ? AND receipt_type IN ('m.read', 'm.read.private')",
          userId,
        )
        .one().ordering ?? 0
    );
  }
}
