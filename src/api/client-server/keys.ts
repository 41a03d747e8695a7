/**
 * End-to-end encryption keys (spec: "End-to-end encryption", key management API): POST /keys/upload,
 * /keys/query, /keys/claim and GET /keys/changes.
 *
 * Keys of users on other servers would come over federation, which this server does not speak yet:
 * their servers are reported in `failures`, as unreachable servers are.
 */
import { and, eq, inArray } from "drizzle-orm";
import type { Hono } from "hono";
import { z } from "zod";
import type { JsonObject } from "../../core/events/pdu";
import { serverNameOf } from "../../core/identifiers";
import { devices, e2eDeviceKeys } from "../../db/schema";
import { oneTimeKeyCountsForClients } from "../../e2ee/device-keys";
import { requireAuth } from "../../http/authentication";
import type { AppEnv } from "../../http/context";
import { missingParam } from "../../http/errors";
import { readJsonBody } from "../../http/request-body";
import { loadCrossSigningKeys, loadVisibleSignatures, withSignatures } from "../../keys/cross-signing-store";
import { announceDeviceListChange, localUsersSharingRoomsWith } from "../../keys/device-lists";
import { claimKey, countKeys, reportKeyCounts, type VersionedKeyCounts } from "../../keys/key-store";
import { checkKeyUpload, saveKeyUpload } from "../../keys/key-upload";
import { userSyncStub } from "../../sync/user-sync-stub";
import { decodeSyncToken } from "./sync";

/** What `failures` says of a server whose users' keys were asked for: it could not be reached. */
const FEDERATION_UNAVAILABLE: JsonObject = { status: 503, message: "Federation is not supported by this server" };

const uploadSchema = z.looseObject({
  device_keys: z.unknown().optional(),
  one_time_keys: z.unknown().optional(),
  fallback_keys: z.unknown().optional(),
});

const querySchema = z.looseObject({
  device_keys: z.record(z.string(), z.array(z.string())),
  timeout: z.number().optional(),
});

const claimSchema = z.looseObject({
  one_time_keys: z.record(z.string(), z.record(z.string(), z.string())),
  timeout: z.number().optional(),
});

/** Splits requested user IDs into this server's users and the other servers named (for `failures`). */
function splitByServer<T>(requested: Record<string, T>, serverName: string): { local: [string, T][]; failures: Record<string, JsonObject> } {
  const local: [string, T][] = [];
  const failures: Record<string, JsonObject> = {};
  for (const [userId, value] of Object.entries(requested)) {
    const server = serverNameOf(userId);
    if (server === null) continue;
    if (server === serverName) local.push([userId, value]);
    else failures[server] = FEDERATION_UNAVAILABLE;
  }
  return { local, failures };
}

export function registerKeyRoutes(client: Hono<AppEnv>): void {
  client.post("/keys/upload", requireAuth, async (c) => {
    const requester = c.get("requester");
    const owner = { userId: requester.userId, deviceId: requester.deviceId };
    const body = await readJsonBody(c, uploadSchema);
    const db = c.get("database").db;
    const checked = await checkKeyUpload(db, owner, body);
    const { deviceKeysChanged, report } = await db.transaction((tx) => saveKeyUpload(tx, owner, checked));
    await reportKeyCounts(c.env, report);
    if (deviceKeysChanged) await announceDeviceListChange(c.env, db, c.get("config").serverName, owner.userId);
    return c.json({ one_time_key_counts: oneTimeKeyCountsForClients(report.counts.counts) });
  });

  client.post("/keys/query", requireAuth, async (c) => {
    const requester = c.get("requester");
    const body = await readJsonBody(c, querySchema);
    const { local, failures } = splitByServer(body.device_keys, c.get("config").serverName);
    const users = local.map(([userId]) => userId);
    const db = c.get("database").db;

    const deviceKeys: Record<string, Record<string, JsonObject>> = Object.fromEntries(users.map((userId) => [userId, {}]));
    const masterKeys: Record<string, JsonObject> = {};
    const selfSigningKeys: Record<string, JsonObject> = {};
    const userSigningKeys: Record<string, JsonObject> = {};
    if (users.length > 0) {
      const [rows, signatures, crossSigning] = await Promise.all([
        db
          .select({ userId: e2eDeviceKeys.userId, deviceId: e2eDeviceKeys.deviceId, keyJson: e2eDeviceKeys.keyJson, displayName: devices.displayName })
          .from(e2eDeviceKeys)
          .innerJoin(devices, and(eq(devices.userId, e2eDeviceKeys.userId), eq(devices.deviceId, e2eDeviceKeys.deviceId)))
          .where(inArray(e2eDeviceKeys.userId, users)),
        loadVisibleSignatures(db, users, requester.userId),
        loadCrossSigningKeys(db, users),
      ]);
      const wanted = new Map(local);
      for (const row of rows) {
        const deviceIds = wanted.get(row.userId) ?? [];
        if (deviceIds.length > 0 && !deviceIds.includes(row.deviceId)) continue;
        const ofDevice = signatures.filter((s) => s.targetUserId === row.userId && s.targetKeyId === row.deviceId);
        deviceKeys[row.userId]![row.deviceId] = {
          ...withSignatures(row.keyJson as JsonObject, ofDevice),
          unsigned: row.displayName === null ? {} : { device_display_name: row.displayName },
        };
      }
      for (const [userId, keys] of crossSigning) {
        if (keys.master !== undefined) {
          const master = keys.master;
          const ofMaster = signatures.filter((s) => s.targetUserId === userId && s.targetKeyId === master.publicKey);
          masterKeys[userId] = withSignatures(master.key, ofMaster);
        }
        if (keys.self_signing !== undefined) selfSigningKeys[userId] = keys.self_signing.key;
        // Only its owner ever needs the user-signing key (spec: user_signing_keys).
        if (keys.user_signing !== undefined && userId === requester.userId) userSigningKeys[userId] = keys.user_signing.key;
      }
    }
    return c.json({
      device_keys: deviceKeys,
      master_keys: masterKeys,
      self_signing_keys: selfSigningKeys,
      user_signing_keys: userSigningKeys,
      failures,
    });
  });

  client.post("/keys/claim", requireAuth, async (c) => {
    const body = await readJsonBody(c, claimSchema);
    const { local, failures } = splitByServer(body.one_time_keys, c.get("config").serverName);
    // Claims in a fixed order, so concurrent claims lock the devices' counters in the same order.
    const wanted = local
      .flatMap(([userId, byDevice]) => Object.entries(byDevice).map(([deviceId, algorithm]) => ({ userId, deviceId, algorithm })))
      .sort((a, b) => (a.userId === b.userId ? (a.deviceId < b.deviceId ? -1 : 1) : a.userId < b.userId ? -1 : 1));
    const oneTimeKeys: Record<string, Record<string, Record<string, string | JsonObject>>> = {};
    const reports: VersionedKeyCounts[] = [];
    if (wanted.length > 0) {
      await c.get("database").db.transaction(async (tx) => {
        for (const { userId, deviceId, algorithm } of wanted) {
          const owner = { userId, deviceId };
          const claimed = await claimKey(tx, owner, algorithm);
          if (claimed === undefined) continue;
          ((oneTimeKeys[userId] ??= {})[deviceId] ??= {})[claimed.keyName] = claimed.key;
          reports.push(await countKeys(tx, owner));
        }
      });
    }
    await Promise.all(reports.map((report) => reportKeyCounts(c.env, report)));
    return c.json({ one_time_keys: oneTimeKeys, failures });
  });

  client.get("/keys/changes", requireAuth, async (c) => {
    const from = c.req.query("from");
    const to = c.req.query("to");
    if (from === undefined) throw missingParam("Missing parameter: from");
    if (to === undefined) throw missingParam("Missing parameter: to");
    const userId = c.get("requester").userId;
    const changes = await userSyncStub(c.env, userId).deviceListsBetween(decodeSyncToken(from), decodeSyncToken(to));
    if ("expired" in changes) {
      // The changes after so old a token are no longer kept: everyone whose keys the client may track counts as changed.
      return c.json({ changed: await localUsersSharingRoomsWith(c.get("database").db, c.get("config").serverName, userId), left: [] });
    }
    return c.json({ changed: changes.changed, left: changes.left });
  });
}
