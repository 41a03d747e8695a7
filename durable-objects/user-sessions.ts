/**
 * UserSessions: one Durable Object per user, the single gate for that user's access tokens.
 *
 * Postgres holds the sessions (access_tokens, refresh_tokens, devices); this object loads a user's whole
 * token set once and answers every later token check from memory, so authenticating a request costs a
 * DO call, not a Postgres connection. Every change to the user's sessions (login, refresh, logout,
 * device deletion, deactivation) goes through this object, which is why its cache can never be stale:
 * a logged-out token is refused by the very next request. Deleting a device also deletes its
 * end-to-end encryption keys and announces the device list change.
 */
import { DurableObject } from "cloudflare:workers";
import { and, eq, inArray, ne, type SQL } from "drizzle-orm";
import type { PgColumn } from "drizzle-orm/pg-core";
import { hashToken, mintAccessToken, mintRefreshToken } from "../src/accounts/session-tokens";
import { loadConfig, type Config } from "../src/config";
import { withDatabase, type Database } from "../src/db/client";
import { accessTokens, devices, refreshTokens, users } from "../src/db/schema";
import type { Env } from "../src/env";
import { announceDeviceListChange } from "../src/keys/device-lists";
import { deleteDeviceKeys } from "../src/keys/key-store";
import { userSyncStub } from "../src/sync/user-sync-stub";

interface CachedAccessToken {
  deviceId: string;
  expiresTs: number | null;
}

export type TokenCheck =
  | { status: "valid"; deviceId: string; isGuest: boolean }
  | { status: "expired" }
  | { status: "unknown" };

export interface IssuedSession {
  accessToken: string;
  refreshToken?: string;
  expiresInMs?: number;
}

export type RefreshOutcome = ({ status: "refreshed"; deviceId: string } & IssuedSession) | { status: "unknown" };

export interface NewSession {
  userId: string;
  deviceId: string;
  initialDisplayName?: string;
  withRefreshToken: boolean;
  ip?: string;
}

export class UserSessions extends DurableObject<Env> {
  private readonly config: Config;
  private tokens: Map<string, CachedAccessToken> | undefined;
  private isGuest = false;
  private loading: Promise<Map<string, CachedAccessToken>> | undefined;

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    this.config = loadConfig(env);
  }

  private async tokenSet(userId: string): Promise<Map<string, CachedAccessToken>> {
    if (this.tokens) return this.tokens;
    // One load at a time: mutations wait for it, so a load can never resurrect a token revoked meanwhile.
    this.loading ??= withDatabase(this.config, async (db) => {
      const [account] = await db.select({ isGuest: users.isGuest }).from(users).where(eq(users.userId, userId));
      this.isGuest = account?.isGuest ?? false;
      const rows = await db
        .select({ tokenHash: accessTokens.tokenHash, deviceId: accessTokens.deviceId, expiresTs: accessTokens.expiresTs })
        .from(accessTokens)
        .where(eq(accessTokens.userId, userId));
      return new Map(rows.map((row) => [row.tokenHash, { deviceId: row.deviceId, expiresTs: row.expiresTs }]));
    }).then(
      (loaded) => {
        this.tokens = loaded;
        return loaded;
      },
      (error: unknown) => {
        this.loading = undefined;
        throw error;
      },
    );
    return this.loading;
  }

  async checkAccessToken(userId: string, tokenHash: string): Promise<TokenCheck> {
    const entry = (await this.tokenSet(userId)).get(tokenHash);
    if (!entry) return { status: "unknown" };
    if (entry.expiresTs !== null && entry.expiresTs <= Date.now()) return { status: "expired" };
    return { status: "valid", deviceId: entry.deviceId, isGuest: this.isGuest };
  }

  private async issueTokens(
    db: Database,
    userId: string,
    deviceId: string,
    withRefreshToken: boolean,
  ): Promise<{ session: IssuedSession; accessHash: string; expiresTs: number | null }> {
    const now = Date.now();
    const accessToken = mintAccessToken(userId);
    const accessHash = await hashToken(accessToken);
    const expiresTs = withRefreshToken ? now + this.config.accessTokenLifetimeMs : null;
    await db.insert(accessTokens).values({ tokenHash: accessHash, userId, deviceId, createdTs: now, expiresTs });
    if (!withRefreshToken) return { session: { accessToken }, accessHash, expiresTs };
    const refreshToken = mintRefreshToken(userId);
    const lifetime = this.config.refreshTokenLifetimeMs;
    await db.insert(refreshTokens).values({
      tokenHash: await hashToken(refreshToken),
      userId,
      deviceId,
      accessTokenHash: accessHash,
      createdTs: now,
      expiresTs: lifetime === undefined ? null : now + lifetime,
    });
    return {
      session: { accessToken, refreshToken, expiresInMs: this.config.accessTokenLifetimeMs },
      accessHash,
      expiresTs,
    };
  }

  /** Logs a device in: creates the device if it is new, then issues its tokens. */
  async createSession(request: NewSession): Promise<IssuedSession> {
    const tokens = await this.tokenSet(request.userId);
    return withDatabase(this.config, async (db) => {
      const now = Date.now();
      const issued = await db.transaction(async (tx) => {
        await tx
          .insert(devices)
          .values({
            userId: request.userId,
            deviceId: request.deviceId,
            displayName: request.initialDisplayName ?? null,
            createdTs: now,
            lastSeenTs: now,
            lastSeenIp: request.ip ?? null,
          })
          .onConflictDoUpdate({
            target: [devices.userId, devices.deviceId],
            set: { lastSeenTs: now, lastSeenIp: request.ip ?? null },
          });
        return this.issueTokens(tx as unknown as Database, request.userId, request.deviceId, request.withRefreshToken);
      });
      tokens.set(issued.accessHash, { deviceId: request.deviceId, expiresTs: issued.expiresTs });
      // The user's sync object keeps their device list for to-device messages.
      await userSyncStub(this.env, request.userId).deviceAdded(request.deviceId);
      return issued.session;
    });
  }

  /** Spends a refresh token: the old access and refresh tokens stop working, a new pair is issued. */
  async refresh(userId: string, refreshTokenHash: string): Promise<RefreshOutcome> {
    const tokens = await this.tokenSet(userId);
    return withDatabase(this.config, async (db) =>
      db.transaction(async (tx) => {
        const [spent] = await tx
          .delete(refreshTokens)
          .where(and(eq(refreshTokens.tokenHash, refreshTokenHash), eq(refreshTokens.userId, userId)))
          .returning();
        if (!spent) return { status: "unknown" as const };
        if (spent.expiresTs !== null && spent.expiresTs <= Date.now()) return { status: "unknown" as const };
        tokens.delete(spent.accessTokenHash);
        await tx.delete(accessTokens).where(eq(accessTokens.tokenHash, spent.accessTokenHash));
        const issued = await this.issueTokens(tx as unknown as Database, userId, spent.deviceId, true);
        tokens.set(issued.accessHash, { deviceId: spent.deviceId, expiresTs: issued.expiresTs });
        return { status: "refreshed" as const, deviceId: spent.deviceId, ...issued.session };
      }),
    );
  }

  /**
   * Removes devices with all their tokens. `deviceIds` undefined means every device of the user;
   * `keepDeviceId` spares one (the caller's own, on a password change).
   */
  async removeDevices(userId: string, deviceIds?: string[], keepDeviceId?: string): Promise<void> {
    const tokens = await this.tokenSet(userId);
    // Forget the tokens first: from this moment on they are refused, even while Postgres is being updated.
    for (const [hash, entry] of tokens) {
      const targeted = deviceIds === undefined || deviceIds.includes(entry.deviceId);
      if (targeted && entry.deviceId !== keepDeviceId) tokens.delete(hash);
    }
    if (deviceIds !== undefined && deviceIds.length === 0) return;
    await withDatabase(this.config, async (db) => {
      const conditions = (column: PgColumn) => {
        const parts: SQL[] = [];
        if (deviceIds !== undefined) parts.push(inArray(column, deviceIds));
        if (keepDeviceId !== undefined) parts.push(ne(column, keepDeviceId));
        return parts;
      };
      const removed = await db.transaction(async (tx) => {
        await tx.delete(accessTokens).where(and(eq(accessTokens.userId, userId), ...conditions(accessTokens.deviceId)));
        await tx.delete(refreshTokens).where(and(eq(refreshTokens.userId, userId), ...conditions(refreshTokens.deviceId)));
        const rows = await tx
          .delete(devices)
          .where(and(eq(devices.userId, userId), ...conditions(devices.deviceId)))
          .returning({ deviceId: devices.deviceId });
        const deviceIdsRemoved = rows.map((row) => row.deviceId);
        await deleteDeviceKeys(tx, userId, deviceIdsRemoved);
        return deviceIdsRemoved;
      });
      if (removed.length === 0) return;
      // A deleted device is a device list change for everyone sharing a room with the user.
      await userSyncStub(this.env, userId).devicesRemoved(removed);
      await announceDeviceListChange(this.env, db, this.config.serverName, userId);
    });
  }
}
