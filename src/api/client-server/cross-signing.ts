/**
 * Cross-signing (spec: "Cross-signing"): POST /keys/device_signing/upload and
 * POST /keys/signatures/upload.
 */
import { and, eq, inArray, sql } from "drizzle-orm";
import type { Hono } from "hono";
import { z } from "zod";
import type { JsonObject } from "../../core/events/pdu";
import { serverNameOf } from "../../core/identifiers";
import { devices, e2eCrossSigningKeys } from "../../db/schema";
import { checkCrossSigningKey, type CheckedCrossSigningKey, type CrossSigningUsage } from "../../e2ee/cross-signing";
import { deviceSigningKey, type DeviceKeys } from "../../e2ee/device-keys";
import { hasValidSignature, sameJson, sameSignedContent, signaturesBy } from "../../e2ee/signatures";
import { requireAuth } from "../../http/authentication";
import type { AppEnv } from "../../http/context";
import { forbidden, missingParam, type MatrixErrorCode } from "../../http/errors";
import { parseWithSchema, readJsonObject } from "../../http/request-body";
import { loadCrossSigningKeys, saveSignatures, type CrossSigningKeySet, type StoredSignature } from "../../keys/cross-signing-store";
import { announceDeviceListChange } from "../../keys/device-lists";
import { loadDeviceKeys } from "../../keys/key-store";
import { userSyncStub } from "../../sync/user-sync-stub";
import { requireUserInteractiveAuth } from "./user-interactive-auth";

const deviceSigningUploadSchema = z.looseObject({
  master_key: z.unknown().optional(),
  self_signing_key: z.unknown().optional(),
  user_signing_key: z.unknown().optional(),
  auth: z.unknown().optional(),
});

const signaturesUploadSchema = z.record(z.string(), z.record(z.string(), z.record(z.string(), z.unknown())));

const USAGE_FIELDS: Record<CrossSigningUsage, "master_key" | "self_signing_key" | "user_signing_key"> = {
  master: "master_key",
  self_signing: "self_signing_key",
  user_signing: "user_signing_key",
};

/**
 * Whether the upload only repeats keys already stored: then it needs no authentication, which makes
 * a retried first upload idempotent (spec: POST /keys/device_signing/upload).
 */
function repeatsStoredKeys(body: Record<string, unknown>, stored: CrossSigningKeySet): boolean {
  return (Object.keys(USAGE_FIELDS) as CrossSigningUsage[]).every((usage) => {
    const uploaded = body[USAGE_FIELDS[usage]];
    return uploaded === undefined || (stored[usage] !== undefined && sameJson(uploaded, stored[usage].key));
  });
}

/** Why one signed object of POST /keys/signatures/upload was refused; reported in `failures`. */
class SignatureFailure extends Error {
  constructor(
    readonly errcode: MatrixErrorCode,
    message: string,
  ) {
    super(message);
  }
}

export function registerCrossSigningRoutes(client: Hono<AppEnv>): void {
  client.post("/keys/device_signing/upload", requireAuth, async (c) => {
    const requester = c.get("requester");
    const userId = requester.userId;
    const raw = await readJsonObject(c);
    const body = parseWithSchema(deviceSigningUploadSchema, raw);
    const db = c.get("database").db;
    const stored = (await loadCrossSigningKeys(db, [userId])).get(userId) ?? {};
    if (stored.master !== undefined) {
      if (repeatsStoredKeys(body, stored)) return c.json({});
      // Replacing keys could hand the account's identity to whoever holds the access token.
      await requireUserInteractiveAuth(c, raw, { flows: [["m.login.password"]], userId });
    }

    const uploaded: Partial<Record<CrossSigningUsage, CheckedCrossSigningKey>> = {};
    if (body.master_key !== undefined) uploaded.master = await checkCrossSigningKey(body.master_key, userId, "master");
    const masterKey = uploaded.master?.publicKey ?? stored.master?.publicKey;
    for (const usage of ["self_signing", "user_signing"] as const) {
      const value = body[USAGE_FIELDS[usage]];
      if (value === undefined) continue;
      if (masterKey === undefined) throw missingParam("No master key available to check the signatures with");
      uploaded[usage] = await checkCrossSigningKey(value, userId, usage, masterKey);
    }
    const entries = Object.entries(uploaded) as [CrossSigningUsage, CheckedCrossSigningKey][];
    if (entries.length === 0) return c.json({});
    const clashing = await db
      .select({ deviceId: devices.deviceId })
      .from(devices)
      .where(and(eq(devices.userId, userId), inArray(devices.deviceId, entries.map(([, key]) => key.publicKey))));
    // Devices and cross-signing keys share one namespace in signatures and in /keys/signatures/upload.
    if (clashing.length > 0) throw forbidden("Key ID in use");

    const now = Date.now();
    await db
      .insert(e2eCrossSigningKeys)
      .values(entries.map(([usage, key]) => ({ userId, usage, publicKey: key.publicKey, keyJson: key.key, updatedTs: now })))
      .onConflictDoUpdate({
        target: [e2eCrossSigningKeys.userId, e2eCrossSigningKeys.usage],
        set: { publicKey: sql`excluded.public_key`, keyJson: sql`excluded.key_json`, updatedTs: now },
      });
    await announceDeviceListChange(c.env, db, c.get("config").serverName, userId);
    return c.json({});
  });

  client.post("/keys/signatures/upload", requireAuth, async (c) => {
    const requester = c.get("requester");
    const signer = requester.userId;
    const body = parseWithSchema(signaturesUploadSchema, await readJsonObject(c));
    const db = c.get("database").db;
    const serverName = c.get("config").serverName;
    const localTargets = Object.keys(body).filter((userId) => serverNameOf(userId) === serverName);
    const crossSigning = await loadCrossSigningKeys(db, [...new Set([signer, ...localTargets])]);
    const own = crossSigning.get(signer) ?? {};

    const accepted: StoredSignature[] = [];
    const failures: Record<string, Record<string, { errcode: MatrixErrorCode; error: string }>> = {};
    /** Checks one signed object; returns the signatures to store, or throws a SignatureFailure. */
    const check = async (targetUserId: string, keyId: string, signed: JsonObject): Promise<StoredSignature[]> => {
      if (serverNameOf(targetUserId) !== serverName) throw new SignatureFailure("M_NOT_FOUND", "Keys of remote users are not known here");
      const target = crossSigning.get(targetUserId) ?? {};
      const signatures = signaturesBy(signed, signer);
      if (targetUserId === signer && keyId !== own.master?.publicKey) {
        // One of the signer's own devices, signed with their self-signing key.
        const selfSigning = own.self_signing?.publicKey;
        if (selfSigning === undefined) throw new SignatureFailure("M_NOT_FOUND", "No self-signing key uploaded");
        const deviceKeys = await loadDeviceKeys(db, { userId: signer, deviceId: keyId });
        if (deviceKeys === undefined) throw new SignatureFailure("M_NOT_FOUND", "Unknown device");
        if (!sameSignedContent(deviceKeys, signed)) throw new SignatureFailure("M_INVALID_PARAM", "The signed object does not match the device's keys");
        const signature = signatures.get(`ed25519:${selfSigning}`);
        if (signature === undefined || !(await hasValidSignature(signed, signer, selfSigning, selfSigning))) {
          throw new SignatureFailure("M_INVALID_SIGNATURE", "Invalid signature");
        }
        return [{ targetUserId, targetKeyId: keyId, userId: signer, keyId: `ed25519:${selfSigning}`, signature }];
      }
      const master = target.master;
      if (master === undefined || master.publicKey !== keyId) throw new SignatureFailure("M_NOT_FOUND", "Unknown key");
      if (!sameSignedContent(master.key, signed)) throw new SignatureFailure("M_INVALID_PARAM", "The signed object does not match the master key");
      if (targetUserId !== signer) {
        // Another user's master key, signed with the signer's user-signing key.
        const userSigning = own.user_signing?.publicKey;
        if (userSigning === undefined) throw new SignatureFailure("M_NOT_FOUND", "No user-signing key uploaded");
        const signature = signatures.get(`ed25519:${userSigning}`);
        if (signature === undefined || !(await hasValidSignature(signed, signer, userSigning, userSigning))) {
          throw new SignatureFailure("M_INVALID_SIGNATURE", "Invalid signature");
        }
        return [{ targetUserId, targetKeyId: keyId, userId: signer, keyId: `ed25519:${userSigning}`, signature }];
      }
      // The signer's own master key, signed by their devices.
      const deviceSignatures: StoredSignature[] = [];
      for (const [signatureKeyId, signature] of signatures) {
        const deviceId = signatureKeyId.startsWith("ed25519:") ? signatureKeyId.slice("ed25519:".length) : undefined;
        if (deviceId === undefined || deviceId === master.publicKey) continue;
        const deviceKeys = (await loadDeviceKeys(db, { userId: signer, deviceId })) as DeviceKeys | undefined;
        const deviceKey = deviceKeys === undefined ? undefined : deviceSigningKey(deviceKeys);
        if (deviceKey === undefined || !(await hasValidSignature(signed, signer, deviceId, deviceKey))) {
          throw new SignatureFailure("M_INVALID_SIGNATURE", `Invalid signature by device ${deviceId}`);
        }
        deviceSignatures.push({ targetUserId, targetKeyId: keyId, userId: signer, keyId: signatureKeyId, signature });
      }
      if (deviceSignatures.length === 0) throw new SignatureFailure("M_INVALID_SIGNATURE", "No signature by a device of the user");
      return deviceSignatures;
    };

    for (const [targetUserId, byKey] of Object.entries(body)) {
      for (const [keyId, signed] of Object.entries(byKey)) {
        try {
          accepted.push(...(await check(targetUserId, keyId, signed as JsonObject)));
        } catch (error) {
          if (!(error instanceof SignatureFailure)) throw error;
          (failures[targetUserId] ??= {})[keyId] = { errcode: error.errcode, error: error.message };
        }
      }
    }
    await saveSignatures(db, accepted);

    const othersSigned = [...new Set(accepted.filter((s) => s.targetUserId !== signer).map((s) => s.targetUserId))];
    if (accepted.some((s) => s.targetUserId === signer)) await announceDeviceListChange(c.env, db, serverName, signer);
    // A user-signing signature matters only to the signer, whose other devices learn of it through sync.
    if (othersSigned.length > 0) await userSyncStub(c.env, signer).deviceListsChanged(othersSigned);
    return c.json({ failures });
  });
}
