/**
 * UserSync: one Durable Object per user, the hub of that user's /sync.
 *
 * Everything that can change a user's sync response is appended to this object's stream: a room of the
 * user committed events or receipts (with the room's own stream positions), someone started or stopped
 * typing, account data changed. The stream position is the user's whole sync token, so a token stays
 * valid across restarts and deploys, and "what changed since the token" is one indexed read of this
 * object's SQLite, never a Postgres query. A waiting long-poll /sync is an in-memory promise here,
 * resolved by the very append that concerns it.
 *
 * For end-to-end encryption it also holds the user's device IDs and, per device, the pending to-device
 * messages (each at its own stream position, deleted once a sync with a later `since` acknowledges it)
 * and the one-time key counts; and the stream records whose device lists changed. Who shares a room with whom
 * is answered by the Postgres membership index, which is asked only when someone leaves a room.
 */
import { DurableObject } from "cloudflare:workers";
import { and, eq, inArray, ne } from "drizzle-orm";
import { alias } from "drizzle-orm/pg-core";
import { loadConfig } from "../src/config";
import type { JsonObject } from "../src/core/events/pdu";
import { withDatabase } from "../src/db/client";
import { devices, roomMemberships } from "../src/db/schema";
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
  /** Users whose membership changed with these events, with the membership they have now. */
  memberships?: Record<string, string>;
  /** Everyone joined to the room after these events; sent when the recipient's own membership changed. */
  joinedMembers?: string[];
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
  /** For room account data: the user's membership in the room, when they have one. */
  membership?: string;
}

/** A to-device message for this user, as sent. */
export interface ToDeviceDelivery {
  /** Unique per sending request and addressee, so a retried request delivers nothing twice. */
  messageId: string;
  /** A device of this user, or `*` for all of them. */
  deviceId: string;
  sender: string;
  type: string;
  content: JsonObject;
}

export interface ToDeviceEvent {
  sender: string;
  type: string;
  content: JsonObject;
}

/** A page of a device's queued to-device messages, read without acknowledging them. */
export interface ToDevicePage {
  events: ToDeviceEvent[];
  /** The position of the page's last message; or, when no messages follow (`limited` false), the stream's current position. */
  end: number;
  /** Whether more messages follow `end`. */
  limited: boolean;
}

export type DeviceListChange = "changed" | "left";

export interface DeviceLists {
  changed: string[];
  left: string[];
}

/** The unclaimed one-time keys of a device by algorithm, and its fallback key algorithms not yet used. */
export interface OneTimeKeyCounts {
  counts: Record<string, number>;
  unusedFallbackTypes: string[];
}

/** What one device's sync carries besides the user's news: its to-device messages and key counts. */
export interface DeviceNews {
  toDevice: ToDeviceEvent[];
  keyCounts: OneTimeKeyCounts;
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
  expired: false;
  /** The position the next incremental sync starts from. */
  position: number;
  rooms: RoomChange[];
  accountData: AccountDataChange[];
  deviceLists: DeviceLists;
  device: DeviceNews;
  presence: PresenceUpdate[];
}

/** The answer for a token older than the stream keeps (see compactStream): the client starts afresh. */
export interface ExpiredToken {
  expired: true;
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
  device: DeviceNews;
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
/** The device ID that addresses every device of the user. */
const ALL_DEVICES = "*";
/** To-device messages per sync response, at most (as Synapse); the rest wait for the next sync. */
const MAX_TO_DEVICE_PER_SYNC = 100;
/** How long a to-device transaction ID is remembered: far longer than any client retries a request. */
const TO_DEVICE_TRANSACTION_LIFETIME_MS = 24 * 60 * 60 * 1000;
const LEFT_CHECK_RETRY_DELAY_MS = 5_000;
/** Stream checkpoints per retention period: compaction runs at most this much later than due. */
const CHECKPOINTS_PER_RETENTION = 10;

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
  CREATE TABLE IF NOT EXISTS stream_checkpoints (bucket INTEGER PRIMARY KEY, position INTEGER NOT NULL);
  CREATE TABLE IF NOT EXISTS stream_horizon (singleton INTEGER PRIMARY KEY CHECK (singleton = 1), position INTEGER NOT NULL);
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
  CREATE TABLE IF NOT EXISTS device_list_changes (
    position INTEGER PRIMARY KEY,
    user_id TEXT NOT NULL,
    change TEXT NOT NULL
  );
  CREATE TABLE IF NOT EXISTS to_device (
    position INTEGER PRIMARY KEY,
    device_id TEXT NOT NULL,
    message_id TEXT NOT NULL UNIQUE,
    sender TEXT NOT NULL,
    type TEXT NOT NULL,
    content TEXT NOT NULL
  );
  CREATE INDEX IF NOT EXISTS to_device_by_device ON to_device (device_id, position);
  CREATE TABLE IF NOT EXISTS to_device_transactions (
    device_id TEXT NOT NULL,
    txn_id TEXT NOT NULL,
    created_ts INTEGER NOT NULL,
    PRIMARY KEY (device_id, txn_id)
  );
  CREATE INDEX IF NOT EXISTS to_device_transactions_by_age ON to_device_transactions (created_ts);
  CREATE TABLE IF NOT EXISTS one_time_key_counts (
    device_id TEXT PRIMARY KEY,
    version INTEGER NOT NULL,
    counts TEXT NOT NULL,
    unused_fallback_types TEXT NOT NULL
  );
  CREATE TABLE IF NOT EXISTS known_devices (device_id TEXT PRIMARY KEY);
  CREATE TABLE IF NOT EXISTS known_devices_loaded (singleton INTEGER PRIMARY KEY CHECK (singleton = 1));
  CREATE TABLE IF NOT EXISTS pending_left_checks (
    room_id TEXT NOT NULL,
    user_id TEXT NOT NULL,
    PRIMARY KEY (room_id, user_id)
  );
`;

export class UserSync extends DurableObject<Env> implements UserSyncApi {
  private readonly sql: SqlStorage;
  private readonly waiters = new Set<Waiter>();
  private leftChecksRunning = false;
  private lastSyncTs = 0;
  private devicesLoading: Promise<void> | undefined;
  /** Devices deleted while the device list was being loaded, which the load must not bring back. */
  private readonly removedWhileLoading = new Set<string>();

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    this.sql = ctx.storage.sql;
    this.sql.exec(SCHEMA);
  }

  /** The user this object serves: objects are addressed by `idFromName(userId)`. */
  private get userId(): string {
    const name = this.ctx.id.name;
    if (name === undefined) throw new Error("UserSync objects are addressed by user ID");
    return name;
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

  /** Appends an entry whose details live in another table, keyed by the position returned. */
  private appendEntry(kind: "device_list" | "to_device"): number {
    return this.sql.exec<{ position: number }>("INSERT INTO stream (kind) VALUES (?) RETURNING position", kind).one().position;
  }

  private appendDeviceListChange(userId: string, change: DeviceListChange): void {
    const position = this.appendEntry("device_list");
    this.sql.exec("INSERT INTO device_list_changes (position, user_id, change) VALUES (?, ?, ?)", position, userId, change);
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
    let leftCandidates = false;
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
        if (notice.memberships !== undefined) {
          leftCandidates = this.trackSharedMembers(notice.roomId, membership, notice.memberships, notice.joinedMembers) || leftCandidates;
        }
      }
    });
    this.wake();
    if (leftCandidates) {
      // The alarm is the safety net should this object be evicted before the check finishes.
      await this.alarmBy(Date.now() + LEFT_CHECK_RETRY_DELAY_MS);
      void this.runLeftChecks();
    }
  }

  /**
   * Device list tracking (spec: "Tracking the device list for a user"): a membership change in one of
   * this user's rooms can start or end sharing it with someone. Starting shows as `changed` at once.
   * Ending is `left` only if no other room is shared; that is checked against the membership index by
   * runLeftChecks, so here the candidates are only queued. Returns whether any were.
   */
  private trackSharedMembers(
    roomId: string,
    ownMembership: string,
    memberships: Record<string, string>,
    joinedMembers: string[] | undefined,
  ): boolean {
    const self = this.userId;
    const started = new Set<string>();
    const stopped = new Set<string>();
    const ownChange = memberships[self];
    if (ownChange !== undefined && joinedMembers !== undefined) {
      for (const member of joinedMembers) {
        if (member === self) continue;
        if (ownChange === "join") started.add(member);
        else if (ownChange === "leave" || ownChange === "ban") stopped.add(member);
      }
    }
    if (ownMembership === "join") {
      for (const [userId, membership] of Object.entries(memberships)) {
        if (userId === self) continue;
        if (membership === "join") started.add(userId);
        else if (membership === "leave" || membership === "ban") stopped.add(userId);
      }
    }
    for (const userId of started) {
      // Sharing again: a pending check could only conclude `left` wrongly.
      this.sql.exec("DELETE FROM pending_left_checks WHERE user_id = ?", userId);
      this.appendDeviceListChange(userId, "changed");
    }
    for (const userId of stopped) {
      this.sql.exec("INSERT OR IGNORE INTO pending_left_checks (room_id, user_id) VALUES (?, ?)", roomId, userId);
    }
    return stopped.size > 0;
  }

  /**
   * Decides the queued `left` candidates: a user who still shares a joined room with this user other
   * than the one they stopped sharing is not `left`. One check runs at a time; if Postgres fails, an
   * alarm tries again.
   */
  private async runLeftChecks(): Promise<void> {
    if (this.leftChecksRunning) return;
    this.leftChecksRunning = true;
    try {
      for (;;) {
        const pending = this.sql
          .exec<{ room_id: string; user_id: string }>("SELECT room_id, user_id FROM pending_left_checks LIMIT 500")
          .toArray();
        if (pending.length === 0) return;
        const shared = await this.sharedRoomsWith([...new Set(pending.map((row) => row.user_id))]);
        this.ctx.storage.transactionSync(() => {
          for (const { room_id: roomId, user_id: userId } of pending) {
            // Gone meanwhile means they started sharing again.
            const stillPending = this.sql
              .exec("DELETE FROM pending_left_checks WHERE room_id = ? AND user_id = ? RETURNING 1", roomId, userId)
              .toArray().length > 0;
            const sharesAnother = (shared.get(userId) ?? []).some((room) => room !== roomId);
            if (stillPending && !sharesAnother) this.appendDeviceListChange(userId, "left");
          }
        });
        this.wake();
      }
    } catch (error) {
      console.warn("device list left check failed, retrying:", error instanceof Error ? error.message : error);
      await this.alarmBy(Date.now() + LEFT_CHECK_RETRY_DELAY_MS);
    } finally {
      this.leftChecksRunning = false;
    }
  }

  /** Sets the alarm for `at` unless it is due earlier already (it also serves presence). */
  private async alarmBy(at: number): Promise<void> {
    const scheduled = await this.ctx.storage.getAlarm();
    if (scheduled === null || scheduled > at) await this.ctx.storage.setAlarm(at);
  }

  /** The rooms this user and each of `userIds` are both joined to, per the Postgres membership index. */
  private async sharedRoomsWith(userIds: string[]): Promise<Map<string, string[]>> {
    const own = alias(roomMemberships, "own");
    const rows = await withDatabase(loadConfig(this.env), (db) =>
      db
        .select({ userId: roomMemberships.userId, roomId: roomMemberships.roomId })
        .from(roomMemberships)
        .innerJoin(own, and(eq(own.roomId, roomMemberships.roomId), eq(own.userId, this.userId), eq(own.membership, "join")))
        .where(and(inArray(roomMemberships.userId, userIds), eq(roomMemberships.membership, "join"), ne(roomMemberships.userId, this.userId))),
    );
    const shared = new Map<string, string[]>();
    for (const row of rows) shared.set(row.userId, [...(shared.get(row.userId) ?? []), row.roomId]);
    return shared;
  }

  /** The device lists of `userIds` changed (device or cross-signing keys): they show in `device_lists.changed`. */
  async deviceListsChanged(userIds: string[]): Promise<void> {
    this.ctx.storage.transactionSync(() => {
      for (const userId of userIds) this.appendDeviceListChange(userId, "changed");
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

  /**
   * Queues to-device messages for devices of this user; messages already queued (a retry) are skipped.
   * Messages for devices that do not exist are dropped, as Synapse does: nobody would ever collect them.
   */
  async deliverToDevice(messages: ToDeviceDelivery[]): Promise<void> {
    const devices = await this.knownDevices();
    this.ctx.storage.transactionSync(() => {
      for (const message of messages) {
        const targets = message.deviceId === ALL_DEVICES ? devices : devices.filter((deviceId) => deviceId === message.deviceId);
        for (const deviceId of targets) {
          const messageId = `${message.messageId} ${deviceId}`;
          const queued = this.sql.exec("SELECT 1 FROM to_device WHERE message_id = ?", messageId).toArray().length > 0;
          if (queued) continue;
          this.sql.exec(
            "INSERT INTO to_device (position, device_id, message_id, sender, type, content) VALUES (?, ?, ?, ?, ?, ?)",
            this.appendEntry("to_device"),
            deviceId,
            messageId,
            message.sender,
            message.type,
            JSON.stringify(message.content),
          );
        }
      }
    });
    this.wake();
  }

  /**
   * This user's devices: read from Postgres once, then kept up to date by UserSessions, through which
   * every device is created (deviceAdded) and deleted (devicesRemoved), and by PUT /dehydrated_device,
   * which creates the user's dehydrated device. Sending to-device messages thus needs no Postgres query.
   */
  private async knownDevices(): Promise<string[]> {
    if (this.sql.exec("SELECT 1 FROM known_devices_loaded").toArray().length === 0) {
      this.devicesLoading ??= this.loadDevices().finally(() => {
        this.devicesLoading = undefined;
      });
      await this.devicesLoading;
    }
    return this.sql.exec<{ device_id: string }>("SELECT device_id FROM known_devices").toArray().map((row) => row.device_id);
  }

  private async loadDevices(): Promise<void> {
    this.removedWhileLoading.clear();
    const rows = await withDatabase(loadConfig(this.env), (db) =>
      db.select({ deviceId: devices.deviceId }).from(devices).where(eq(devices.userId, this.userId)),
    );
    this.ctx.storage.transactionSync(() => {
      for (const { deviceId } of rows) {
        if (!this.removedWhileLoading.has(deviceId)) this.sql.exec("INSERT OR IGNORE INTO known_devices (device_id) VALUES (?)", deviceId);
      }
      this.sql.exec("INSERT OR IGNORE INTO known_devices_loaded (singleton) VALUES (1)");
    });
    this.removedWhileLoading.clear();
  }

  /** A device of this user was created (a login, or a dehydrated device), once it is in Postgres. */
  async deviceAdded(deviceId: string): Promise<void> {
    this.removedWhileLoading.delete(deviceId);
    this.sql.exec("INSERT OR IGNORE INTO known_devices (device_id) VALUES (?)", deviceId);
  }

  /** Whether this user's device already sent to-device messages with this transaction ID. */
  async hasToDeviceTransaction(deviceId: string, txnId: string): Promise<boolean> {
    return (
      this.sql.exec("SELECT 1 FROM to_device_transactions WHERE device_id = ? AND txn_id = ?", deviceId, txnId).toArray().length > 0
    );
  }

  /** Remembers a to-device transaction once all its messages are delivered. */
  async recordToDeviceTransaction(deviceId: string, txnId: string): Promise<void> {
    const now = Date.now();
    this.sql.exec("DELETE FROM to_device_transactions WHERE created_ts < ?", now - TO_DEVICE_TRANSACTION_LIFETIME_MS);
    this.sql.exec(
      "INSERT OR IGNORE INTO to_device_transactions (device_id, txn_id, created_ts) VALUES (?, ?, ?)",
      deviceId,
      txnId,
      now,
    );
  }

  /**
   * A device's one-time key counts after an upload or claim. `version` orders the reports (see
   * e2e_key_count_versions): an older one arriving late is ignored.
   */
  async setOneTimeKeyCounts(deviceId: string, version: number, counts: OneTimeKeyCounts): Promise<void> {
    this.sql.exec(
      `INSERT INTO one_time_key_counts (device_id, version, counts, unused_fallback_types) VALUES (?, ?, ?, ?)
       ON CONFLICT (device_id) DO UPDATE SET version = excluded.version, counts = excluded.counts,
         unused_fallback_types = excluded.unused_fallback_types
       WHERE excluded.version > one_time_key_counts.version`,
      deviceId,
      version,
      JSON.stringify(counts.counts),
      JSON.stringify(counts.unusedFallbackTypes),
    );
  }

  /** Devices of this user were deleted (and are gone from Postgres): their key counts and undelivered messages go. */
  async devicesRemoved(deviceIds: string[]): Promise<void> {
    this.ctx.storage.transactionSync(() => {
      for (const deviceId of deviceIds) {
        if (this.devicesLoading !== undefined) this.removedWhileLoading.add(deviceId);
        this.sql.exec("DELETE FROM known_devices WHERE device_id = ?", deviceId);
        this.sql.exec("DELETE FROM one_time_key_counts WHERE device_id = ?", deviceId);
        this.sql.exec("DELETE FROM to_device WHERE device_id = ?", deviceId);
        this.sql.exec("DELETE FROM to_device_transactions WHERE device_id = ?", deviceId);
      }
    });
  }

  /**
   * Where every room of the user stands now: the basis of an initial sync, with the device's pending
   * to-device messages. `acknowledged`, the `since` of a full-state sync, acknowledges messages as an
   * incremental sync's does.
   */
  async snapshot(deviceId: string, acknowledged?: number): Promise<StreamSnapshot> {
    this.compactStream();
    const position = this.currentPosition();
    if (acknowledged !== undefined) this.acknowledgeToDevice(deviceId, Math.min(acknowledged, position));
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
    return { position, rooms, presence: this.knownPresence(), device: this.deviceNews(deviceId, 0, position) };
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
  async setOwnPresence(presence: PresenceState["presence"], statusMsg: string | undefined, fromSync: boolean): Promise<PresenceState | undefined> {
    const userId = this.userId;
    const now = Date.now();
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

  /**
   * The alarm serves two purposes: device list `left` checks still pending (after a failure, or an
   * eviction in the middle of one), and noticing that nobody synced for a while and nobody is waiting,
   * which means the user went away.
   */
  override async alarm(): Promise<void> {
    await this.runLeftChecks();
    const now = Date.now();
    if (this.waiters.size > 0 || now - this.lastSyncTs < OFFLINE_AFTER_MS) {
      await this.ctx.storage.setAlarm(Math.max(now, this.lastSyncTs) + OFFLINE_AFTER_MS + 1000);
      return;
    }
    if ((await this.presenceOf(this.userId))?.presence !== "online") return;
    const state = await this.setOwnPresence("offline", undefined, false);
    if (state !== undefined) await publishPresence(this.env, loadConfig(this.env), this.userId, state);
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
   * Syncing with `since` acknowledges the device's to-device messages up to it.
   */
  async changesSince(since: number, timeoutMs: number, deviceId: string): Promise<StreamChanges | ExpiredToken> {
    this.compactStream();
    if (since < this.horizon()) return { expired: true };
    let current = this.currentPosition();
    const from = Math.min(since, current);
    this.acknowledgeToDevice(deviceId, from);
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
      expired: false,
      position: current,
      rooms: this.roomChanges(from, current),
      accountData: this.accountDataChanges(from, current),
      presence: this.presenceChanges(from, current),
      deviceLists: this.deviceListChanges(from, current),
      device: this.deviceNews(deviceId, from, current),
    };
  }

  /** GET /keys/changes: whose device lists changed after `from` up to `to`. */
  async deviceListsBetween(from: number, to: number): Promise<DeviceLists | ExpiredToken> {
    if (from < this.horizon()) return { expired: true };
    return this.deviceListChanges(from, Math.min(to, this.currentPosition()));
  }

  /**
   * Up to `limit` of the device's to-device messages after position `after`, oldest first, for a
   * device that does not sync: the user's dehydrated device (MSC3814), read by the device rehydrating
   * it. Nothing is deleted, so a rehydration that is cut short can be started again; the messages go
   * with the device.
   */
  async toDevicePage(deviceId: string, after: number, limit: number): Promise<ToDevicePage> {
    const current = this.currentPosition();
    const rows = this.sql
      .exec<{ position: number; sender: string; type: string; content: string }>(
        "SELECT position, sender, type, content FROM to_device WHERE device_id = ? AND position > ? AND position <= ? ORDER BY position LIMIT ?",
        deviceId,
        after,
        current,
        limit + 1,
      )
      .toArray();
    const page = rows.slice(0, limit);
    const limited = rows.length > limit;
    return {
      events: page.map((row) => ({ sender: row.sender, type: row.type, content: JSON.parse(row.content) as JsonObject })),
      end: limited ? page[page.length - 1]!.position : current,
      limited,
    };
  }

  /** Tokens before this position are expired: the entries telling what came after them may be gone. */
  private horizon(): number {
    return this.sql.exec<{ position: number }>("SELECT position FROM stream_horizon").toArray()[0]?.position ?? 0;
  }

  /**
   * Keeps the stream from growing for ever. Each sync records the stream position of the current
   * time bucket; once a checkpoint is older than SYNC_STREAM_RETENTION_MS, the entries up to it are
   * compacted away, except what tokens after it still need: each room's newest events and receipts
   * entries (the start of their next ranges) and the newest entry (the current position). A token
   * from before the horizon is then expired (see ExpiredToken), as such an old token's client would
   * otherwise receive an exact but enormous catch-up.
   */
  private compactStream(): void {
    const retentionMs = loadConfig(this.env).syncStreamRetentionMs;
    const bucket = Math.floor(Date.now() / Math.max(1, retentionMs / CHECKPOINTS_PER_RETENTION));
    this.sql.exec("INSERT OR IGNORE INTO stream_checkpoints (bucket, position) VALUES (?, ?)", bucket, this.currentPosition());
    const cutoff = this.sql
      .exec<{ bucket: number; position: number }>(
        "SELECT bucket, position FROM stream_checkpoints WHERE bucket <= ? ORDER BY bucket DESC LIMIT 1",
        bucket - CHECKPOINTS_PER_RETENTION,
      )
      .toArray()[0];
    if (cutoff === undefined || cutoff.position <= this.horizon()) return;
    this.ctx.storage.transactionSync(() => {
      this.sql.exec(
        `DELETE FROM stream WHERE position <= ? AND position < (SELECT MAX(position) FROM stream) AND position NOT IN (
           SELECT MAX(position) FROM stream WHERE position <= ? AND kind IN ('events', 'receipts') GROUP BY room_id, kind)`,
        cutoff.position,
        cutoff.position,
      );
      this.sql.exec("DELETE FROM device_list_changes WHERE position <= ?", cutoff.position);
      this.sql.exec("DELETE FROM stream_checkpoints WHERE bucket < ?", cutoff.bucket);
      this.sql.exec("INSERT OR REPLACE INTO stream_horizon (singleton, position) VALUES (1, ?)", cutoff.position);
    });
  }

  private acknowledgeToDevice(deviceId: string, upTo: number): void {
    this.sql.exec("DELETE FROM to_device WHERE device_id = ? AND position <= ?", deviceId, upTo);
  }

  /**
   * The device's to-device messages after `from` up to `to`, at most MAX_TO_DEVICE_PER_SYNC. Those left
   * over move to new stream positions after `to`, so the sync token of this response does not
   * acknowledge them and the next sync returns at once with them.
   */
  private deviceNews(deviceId: string, from: number, to: number): DeviceNews {
    const rows = this.sql
      .exec<{ position: number; sender: string; type: string; content: string }>(
        "SELECT position, sender, type, content FROM to_device WHERE device_id = ? AND position > ? AND position <= ? ORDER BY position",
        deviceId,
        from,
        to,
      )
      .toArray();
    const delivered = rows.slice(0, MAX_TO_DEVICE_PER_SYNC);
    const leftOver = rows.slice(MAX_TO_DEVICE_PER_SYNC);
    if (leftOver.length > 0) {
      this.ctx.storage.transactionSync(() => {
        for (const row of leftOver) {
          this.sql.exec("UPDATE to_device SET position = ? WHERE position = ?", this.appendEntry("to_device"), row.position);
        }
      });
      this.wake();
    }
    const keyCounts = this.sql
      .exec<{ counts: string; unused_fallback_types: string }>(
        "SELECT counts, unused_fallback_types FROM one_time_key_counts WHERE device_id = ?",
        deviceId,
      )
      .toArray()[0];
    return {
      toDevice: delivered.map((row) => ({ sender: row.sender, type: row.type, content: JSON.parse(row.content) as JsonObject })),
      keyCounts: {
        counts: keyCounts === undefined ? {} : (JSON.parse(keyCounts.counts) as Record<string, number>),
        unusedFallbackTypes: keyCounts === undefined ? [] : (JSON.parse(keyCounts.unused_fallback_types) as string[]),
      },
    };
  }

  /** The newest device list change of each user after `from` up to `to`. */
  private deviceListChanges(from: number, to: number): DeviceLists {
    const rows = this.sql
      .exec<{ user_id: string; change: DeviceListChange }>(
        `SELECT user_id, change FROM device_list_changes WHERE position IN (
           SELECT MAX(position) FROM device_list_changes WHERE position > ? AND position <= ? GROUP BY user_id)`,
        from,
        to,
      )
      .toArray();
    return {
      changed: rows.filter((row) => row.change === "changed").map((row) => row.user_id),
      left: rows.filter((row) => row.change === "left").map((row) => row.user_id),
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
      .exec<{ room_id: string; data_type: string; content: string; membership: string | null }>(
        `SELECT stream.room_id, data_type, content, rooms.membership FROM stream
         LEFT JOIN rooms ON rooms.room_id = stream.room_id AND stream.room_id != ''
         WHERE position IN (
           SELECT MAX(position) FROM stream
           WHERE kind = 'account_data' AND position > ? AND position <= ? GROUP BY room_id, data_type)
         ORDER BY position`,
        from,
        to,
      )
      .toArray();
    return rows.map((row) => ({
      roomId: row.room_id,
      type: row.data_type,
      content: JSON.parse(row.content) as JsonObject,
      ...(row.membership !== null ? { membership: row.membership } : {}),
    }));
  }
}
