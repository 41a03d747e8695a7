/**
 * UserSync: one Durable Object per user, the hub of that user's /sync.
 *
 * Everything that can change a user's sync response is appended to this object's stream: a room of the
 * user committed events or receipts (with the room's own stream positions), someone started or stopped
 * typing, account data changed. The stream position is the user's whole sync token, so a token stays
 * valid across restarts and deploys, and "what changed since the token" is one indexed read of this
 * object's SQLite, never a Postgres query. A waiting long-poll /sync is an in-memory promise here,
 * resolved by the very append that concerns it.
 */
import { DurableObject } from "cloudflare:workers";
import type { JsonObject } from "../src/core/events/pdu";
import { loadConfig } from "../src/config";
import type { Env } from "../src/env";
import { publishPresence } from "../src/sync/presence";
import type { UserSyncApi } from "../src/sync/user-sync-stub";

/** A room's news for one user, as the room reports it. */
export interface RoomNotice {
  roomId: string;
  /** The room's newest event stream ordering, when events were committed. */
  eventsPosition?: number;
  /** The user's membership after those events. */
  membership?: string;
  /** The room's newest receipt position, when receipts changed. */
  receiptsPosition?: number;
  /** Whether the set of typing users changed. */
  typing?: boolean;
}

/** A range of a room stream: after `from` (exclusive) up to `to` (inclusive). */
export interface StreamRange {
  from: number;
  to: number;
}

export interface RoomChange {
  roomId: string;
  /** The user's membership as of the end of the range. */
  membership: string;
  events?: StreamRange;
  receipts?: StreamRange;
  typing: boolean;
}

export interface AccountDataChange {
  /** Empty for global account data. */
  roomId: string;
  type: string;
  content: JsonObject;
}

/** m.presence content as stored: `last_active_ts` becomes `last_active_ago` when served. */
export interface PresenceState {
  presence: "online" | "offline" | "unavailable";
  status_msg?: string;
  last_active_ts: number;
  currently_active: boolean;
}

export interface PresenceUpdate {
  userId: string;
  state: PresenceState;
}

export interface StreamChanges {
  /** The position the next incremental sync starts from. */
  position: number;
  rooms: RoomChange[];
  accountData: AccountDataChange[];
  presence: PresenceUpdate[];
}

export interface RoomSnapshot {
  roomId: string;
  membership: string;
  eventsPosition: number;
  receiptsPosition: number;
}

export interface StreamSnapshot {
  position: number;
  rooms: RoomSnapshot[];
  /** The last known presence of this user and of the users they share rooms with. */
  presence: PresenceUpdate[];
}

interface Waiter {
  since: number;
  resolve: () => void;
}

/** A user who has not synced for this long is no longer online (as Synapse's SYNC_ONLINE_TIMEOUT). */
const OFFLINE_AFTER_MS = 30_000;

/** Long-polls never wait longer than this, whatever the client asks for. */
const MAX_WAIT_MS = 60_000;

const SCHEMA = `
  CREATE TABLE IF NOT EXISTS stream (
    position INTEGER PRIMARY KEY AUTOINCREMENT,
    kind TEXT NOT NULL,
    room_id TEXT NOT NULL DEFAULT '',
    room_position INTEGER NOT NULL DEFAULT 0,
    membership TEXT,
    data_type TEXT,
    content TEXT
  );
  CREATE INDEX IF NOT EXISTS stream_by_room ON stream (room_id, kind, position);
  CREATE TABLE IF NOT EXISTS owner (singleton INTEGER PRIMARY KEY CHECK (singleton = 1), user_id TEXT NOT NULL);
  CREATE TABLE IF NOT EXISTS presence (
    user_id TEXT PRIMARY KEY,
    content TEXT NOT NULL
  );
  CREATE TABLE IF NOT EXISTS rooms (
    room_id TEXT PRIMARY KEY,
    membership TEXT NOT NULL,
    events_position INTEGER NOT NULL DEFAULT 0,
    receipts_position INTEGER NOT NULL DEFAULT 0
  );
`;

export class UserSync extends DurableObject<Env> implements UserSyncApi {
  private readonly sql: SqlStorage;
  private readonly waiters = new Set<Waiter>();
  private lastSyncTs = 0;

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    this.sql = ctx.storage.sql;
    this.sql.exec(SCHEMA);
  }

  private currentPosition(): number {
    return this.sql.exec<{ position: number | null }>("SELECT MAX(position) AS position FROM stream").one().position ?? 0;
  }

  private append(kind: string, roomId: string, roomPosition: number, membership: string | null): void {
    this.sql.exec(
      "INSERT INTO stream (kind, room_id, room_position, membership) VALUES (?, ?, ?, ?)",
      kind,
      roomId,
      roomPosition,
      membership,
    );
  }

  private wake(): void {
    const position = this.currentPosition();
    for (const waiter of this.waiters) {
      if (position > waiter.since) {
        this.waiters.delete(waiter);
        waiter.resolve();
      }
    }
  }

  /** News from rooms of this user, batched by the rooms (one call per flush, not per event). */
  async roomsUpdated(notices: RoomNotice[]): Promise<void> {
    this.ctx.storage.transactionSync(() => {
      for (const notice of notices) {
        const known = this.sql
          .exec<{ membership: string }>("SELECT membership FROM rooms WHERE room_id = ?", notice.roomId)
          .toArray()[0];
        const membership = notice.membership ?? known?.membership;
        // A room this user never had a membership in has nothing to tell them.
        if (membership === undefined) continue;
        if (notice.eventsPosition !== undefined) this.append("events", notice.roomId, notice.eventsPosition, membership);
        if (notice.receiptsPosition !== undefined) this.append("receipts", notice.roomId, notice.receiptsPosition, null);
        if (notice.typing) this.append("typing", notice.roomId, 0, null);
        this.sql.exec(
          `INSERT INTO rooms (room_id, membership, events_position, receipts_position) VALUES (?, ?, ?, ?)
           ON CONFLICT (room_id) DO UPDATE SET membership = excluded.membership,
             events_position = MAX(events_position, excluded.events_position),
             receipts_position = MAX(receipts_position, excluded.receipts_position)`,
          notice.roomId,
          membership,
          notice.eventsPosition ?? 0,
          notice.receiptsPosition ?? 0,
        );
      }
    });
    this.wake();
  }

  /** The user's account data changed (Postgres already holds it; this carries it to incremental syncs). */
  async accountDataChanged(roomId: string, type: string, content: JsonObject): Promise<void> {
    this.sql.exec(
      "INSERT INTO stream (kind, room_id, data_type, content) VALUES ('account_data', ?, ?, ?)",
      roomId,
      type,
      JSON.stringify(content),
    );
    this.wake();
  }

  /** Where every room of the user stands now: the basis of an initial sync. */
  async snapshot(): Promise<StreamSnapshot> {
    const rooms = this.sql
      .exec<{ room_id: string; membership: string; events_position: number; receipts_position: number }>(
        "SELECT room_id, membership, events_position, receipts_position FROM rooms",
      )
      .toArray()
      .map((row) => ({
        roomId: row.room_id,
        membership: row.membership,
        eventsPosition: row.events_position,
        receiptsPosition: row.receipts_position,
      }));
    return { position: this.currentPosition(), rooms, presence: this.knownPresence() };
  }

  private knownPresence(): PresenceUpdate[] {
    return this.sql
      .exec<{ user_id: string; content: string }>("SELECT user_id, content FROM presence")
      .toArray()
      .map((row) => ({ userId: row.user_id, state: JSON.parse(row.content) as PresenceState }));
  }

  /** The presence of `userId` as this stream last heard it (its own user's is authoritative here). */
  async presenceOf(userId: string): Promise<PresenceState | undefined> {
    const row = this.sql.exec<{ content: string }>("SELECT content FROM presence WHERE user_id = ?", userId).toArray()[0];
    return row === undefined ? undefined : (JSON.parse(row.content) as PresenceState);
  }

  /**
   * Sets this user's own presence (PUT /presence, or /sync's set_presence). Returns the new state when it
   * changed, for the caller to hand to the users sharing rooms; records it in this user's own stream.
   */
  async setOwnPresence(
    userId: string,
    presence: PresenceState["presence"],
    statusMsg: string | undefined,
    fromSync: boolean,
  ): Promise<PresenceState | undefined> {
    const now = Date.now();
    this.sql.exec("INSERT OR REPLACE INTO owner (singleton, user_id) VALUES (1, ?)", userId);
    if (fromSync) {
      this.lastSyncTs = now;
      if (presence === "online") await this.ctx.storage.setAlarm(now + OFFLINE_AFTER_MS + 1000);
    }
    const current = await this.presenceOf(userId);
    const state: PresenceState = {
      presence,
      last_active_ts: presence === "online" ? now : (current?.last_active_ts ?? now),
      currently_active: presence === "online",
      ...(statusMsg !== undefined ? { status_msg: statusMsg } : current?.status_msg !== undefined && fromSync ? { status_msg: current.status_msg } : {}),
    };
    if (current !== undefined && current.presence === state.presence && current.status_msg === state.status_msg) return undefined;
    await this.presenceChanged({ userId, state });
    return state;
  }

  /** Nobody synced for a while and nobody is waiting: the user went away. */
  override async alarm(): Promise<void> {
    const owner = this.sql.exec<{ user_id: string }>("SELECT user_id FROM owner").toArray()[0]?.user_id;
    if (owner === undefined) return;
    const now = Date.now();
    if (this.waiters.size > 0 || now - this.lastSyncTs < OFFLINE_AFTER_MS) {
      await this.ctx.storage.setAlarm(Math.max(now, this.lastSyncTs) + OFFLINE_AFTER_MS + 1000);
      return;
    }
    if ((await this.presenceOf(owner))?.presence !== "online") return;
    const state = await this.setOwnPresence(owner, "offline", undefined, false);
    if (state !== undefined) await publishPresence(this.env, loadConfig(this.env), owner, state);
  }

  /** Someone's presence changed (this user's own, or a user sharing a room with them). */
  async presenceChanged(update: PresenceUpdate): Promise<void> {
    const content = JSON.stringify(update.state);
    this.sql.exec(
      "INSERT INTO presence (user_id, content) VALUES (?, ?) ON CONFLICT (user_id) DO UPDATE SET content = excluded.content",
      update.userId,
      content,
    );
    this.sql.exec("INSERT INTO stream (kind, data_type, content) VALUES ('presence', ?, ?)", update.userId, content);
    this.wake();
  }

  /**
   * What changed after `since`, waiting up to `timeoutMs` for something to change first.
   * A `since` ahead of the stream (a token from nowhere) is treated as the current position.
   */
  async changesSince(since: number, timeoutMs: number): Promise<StreamChanges> {
    let current = this.currentPosition();
    const from = Math.min(since, current);
    if (current <= from && timeoutMs > 0) {
      await new Promise<void>((resolve) => {
        const timer = setTimeout(() => {
          this.waiters.delete(waiter);
          resolve();
        }, Math.min(timeoutMs, MAX_WAIT_MS));
        const waiter: Waiter = {
          since: from,
          resolve: () => {
            clearTimeout(timer);
            resolve();
          },
        };
        this.waiters.add(waiter);
      });
      current = this.currentPosition();
    }
    return {
      position: current,
      rooms: this.roomChanges(from, current),
      accountData: this.accountDataChanges(from, current),
      presence: this.presenceChanges(from, current),
    };
  }

  private rangeOf(roomId: string, kind: string, from: number, to: number): StreamRange | undefined {
    const newest = this.sql
      .exec<{ position: number | null }>(
        "SELECT MAX(room_position) AS position FROM stream WHERE room_id = ? AND kind = ? AND position > ? AND position <= ?",
        roomId,
        kind,
        from,
        to,
      )
      .one().position;
    if (newest === null) return undefined;
    const seen = this.sql
      .exec<{ position: number | null }>(
        "SELECT MAX(room_position) AS position FROM stream WHERE room_id = ? AND kind = ? AND position <= ?",
        roomId,
        kind,
        from,
      )
      .one().position;
    return { from: seen ?? 0, to: newest };
  }

  private roomChanges(from: number, to: number): RoomChange[] {
    const rooms = this.sql
      .exec<{ room_id: string }>(
        "SELECT DISTINCT room_id FROM stream WHERE kind IN ('events', 'receipts', 'typing') AND position > ? AND position <= ?",
        from,
        to,
      )
      .toArray();
    return rooms.map(({ room_id: roomId }) => {
      const membership =
        this.sql
          .exec<{ membership: string }>(
            "SELECT membership FROM stream WHERE room_id = ? AND kind = 'events' AND position <= ? ORDER BY position DESC LIMIT 1",
            roomId,
            to,
          )
          .toArray()[0]?.membership ??
        this.sql.exec<{ membership: string }>("SELECT membership FROM rooms WHERE room_id = ?", roomId).one().membership;
      const typing =
        this.sql
          .exec(
            "SELECT 1 FROM stream WHERE room_id = ? AND kind = 'typing' AND position > ? AND position <= ? LIMIT 1",
            roomId,
            from,
            to,
          )
          .toArray().length > 0;
      return {
        roomId,
        membership,
        events: this.rangeOf(roomId, "events", from, to),
        receipts: this.rangeOf(roomId, "receipts", from, to),
        typing,
      };
    });
  }

  private presenceChanges(from: number, to: number): PresenceUpdate[] {
    return this.sql
      .exec<{ data_type: string; content: string }>(
        `SELECT data_type, content FROM stream WHERE position IN (
           SELECT MAX(position) FROM stream WHERE kind = 'presence' AND position > ? AND position <= ? GROUP BY data_type)
         ORDER BY position`,
        from,
        to,
      )
      .toArray()
      .map((row) => ({ userId: row.data_type, state: JSON.parse(row.content) as PresenceState }));
  }

  private accountDataChanges(from: number, to: number): AccountDataChange[] {
    // Only the newest content of each (room, type) matters.
    const rows = this.sql
      .exec<{ room_id: string; data_type: string; content: string }>(
        `SELECT room_id, data_type, content FROM stream WHERE position IN (
           SELECT MAX(position) FROM stream
           WHERE kind = 'account_data' AND position > ? AND position <= ? GROUP BY room_id, data_type)
         ORDER BY position`,
        from,
        to,
      )
      .toArray();
    return rows.map((row) => ({ roomId: row.room_id, type: row.data_type, content: JSON.parse(row.content) as JsonObject }));
  }
}
