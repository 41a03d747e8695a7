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
import type { Env } from "../src/env";
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

export interface StreamChanges {
  /** The position the next incremental sync starts from. */
  position: number;
  rooms: RoomChange[];
  accountData: AccountDataChange[];
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
}

interface Waiter {
  since: number;
  resolve: () => void;
}

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
    return { position: this.currentPosition(), rooms };
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
    return { position: current, rooms: this.roomChanges(from, current), accountData: this.accountDataChanges(from, current) };
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
