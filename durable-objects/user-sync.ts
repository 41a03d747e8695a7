/**
 * UserSync: one Durable Object per user, the hub of that user's /sync.
 *
 * Everything that can change a user's sync response is appended to this object's stream: a room of the
 * user committed events (with the room's own stream position), account data changed, and so on. The
 * stream position is the user's whole sync token, so a token stays valid across restarts and deploys,
 * and "what changed since the token" is one indexed read of this object's SQLite, never a Postgres query.
 * A waiting long-poll /sync is an in-memory promise here, resolved by the very append that concerns it.
 */
import { DurableObject } from "cloudflare:workers";
import type { JsonObject } from "../src/core/events/pdu";
import type { Env } from "../src/env";

/** Kinds of stream entries; each names what a sync must look at again. */
export type StreamEntryKind = "room" | "account_data";

export interface RoomChange {
  roomId: string;
  /** The room's stream position the user had seen as of the `since` token (0: none). */
  fromPosition: number;
  /** The room's newest stream position known to this user's stream. */
  toPosition: number;
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

interface Waiter {
  since: number;
  resolve: () => void;
}

/** Long-polls never wait longer than this, whatever the client asks for. */
const MAX_WAIT_MS = 60_000;

export class UserSync extends DurableObject<Env> {
  private readonly sql: SqlStorage;
  private readonly waiters = new Set<Waiter>();

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    this.sql = ctx.storage.sql;
    this.sql.exec(`
      CREATE TABLE IF NOT EXISTS stream (
        position INTEGER PRIMARY KEY AUTOINCREMENT,
        kind TEXT NOT NULL,
        room_id TEXT NOT NULL DEFAULT '',
        room_position INTEGER NOT NULL DEFAULT 0,
        data_type TEXT,
        content TEXT
      );
      CREATE INDEX IF NOT EXISTS stream_room ON stream (room_id, position);
    `);
  }

  private currentPosition(): number {
    const row = this.sql.exec<{ position: number | null }>("SELECT MAX(position) AS position FROM stream").one();
    return row.position ?? 0;
  }

  private wake(position: number): void {
    for (const waiter of this.waiters) {
      if (position > waiter.since) {
        this.waiters.delete(waiter);
        waiter.resolve();
      }
    }
  }

  /** A room of this user committed events up to `roomPosition` (its stream ordering). */
  async roomUpdated(roomId: string, roomPosition: number): Promise<void> {
    const cursor = this.sql.exec<{ position: number }>(
      "INSERT INTO stream (kind, room_id, room_position) VALUES ('room', ?, ?) RETURNING position",
      roomId,
      roomPosition,
    );
    this.wake(cursor.one().position);
  }

  /** The user's account data changed (Postgres already holds it; this carries it to incremental syncs). */
  async accountDataChanged(roomId: string, type: string, content: JsonObject): Promise<void> {
    const cursor = this.sql.exec<{ position: number }>(
      "INSERT INTO stream (kind, room_id, data_type, content) VALUES ('account_data', ?, ?, ?) RETURNING position",
      roomId,
      type,
      JSON.stringify(content),
    );
    this.wake(cursor.one().position);
  }

  /** The current stream position: the `next_batch` of an initial sync. */
  async position(): Promise<number> {
    return this.currentPosition();
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
        const waiter: Waiter = { since: from, resolve };
        const timer = setTimeout(() => {
          this.waiters.delete(waiter);
          resolve();
        }, Math.min(timeoutMs, MAX_WAIT_MS));
        waiter.resolve = () => {
          clearTimeout(timer);
          resolve();
        };
        this.waiters.add(waiter);
      });
      current = this.currentPosition();
    }
    return { position: current, rooms: this.roomChanges(from, current), accountData: this.accountDataChanges(from, current) };
  }

  private roomChanges(from: number, to: number): RoomChange[] {
    const changed = this.sql
      .exec<{ room_id: string; to_position: number }>(
        `SELECT room_id, MAX(room_position) AS to_position FROM stream
         WHERE kind = 'room' AND position > ? AND position <= ? GROUP BY room_id`,
        from,
        to,
      )
      .toArray();
    return changed.map((row) => {
      const seen = this.sql
        .exec<{ seen: number | null }>(
          "SELECT MAX(room_position) AS seen FROM stream WHERE kind = 'room' AND room_id = ? AND position <= ?",
          row.room_id,
          from,
        )
        .one();
      return { roomId: row.room_id, fromPosition: seen.seen ?? 0, toPosition: row.to_position };
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
