import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { checkCrossSigningKey, crossSigningPublicKey } from "../../src/e2ee/cross-signing";
import { checkDeviceKeys, checkUploadedKeys, oneTimeKeyCountsForClients, parseKeyName } from "../../src/e2ee/device-keys";
import { shouldReplaceBackedUpKey } from "../../src/e2ee/key-backup";
import { decodePublicKey, hasValidSignature, sameJson, sameSignedContent, signaturesBy } from "../../src/e2ee/signatures";
import { MatrixError } from "../../src/http/errors";
import { crossSigningKeys, oneTimeKeys, signAs, testDevice } from "../support/e2ee";

const ALICE = "@alice:example.org";
const DEVICE = "JLAFKJWSCS";

async function rejectsWith(pending: Promise<unknown>, status: number, errcode: string): Promise<void> {
  await assert.rejects(pending, (error: unknown) => {
    assert.ok(error instanceof MatrixError, String(error));
    assert.equal(error.status, status);
    assert.equal(error.errcode, errcode, error.message);
    return true;
  });
}

describe("device keys", () => {
  it("accepts keys signed by the device's own ed25519 key", async () => {
    const device = await testDevice(ALICE, DEVICE);
    const checked = await checkDeviceKeys(device.deviceKeys, { userId: ALICE, deviceId: DEVICE });
    assert.deepEqual(checked, device.deviceKeys);
  });

  it("refuses keys of another user or device", async () => {
    const device = await testDevice(ALICE, DEVICE);
    await rejectsWith(checkDeviceKeys(device.deviceKeys, { userId: "@bob:example.org", deviceId: DEVICE }), 403, "M_FORBIDDEN");
    await rejectsWith(checkDeviceKeys(device.deviceKeys, { userId: ALICE, deviceId: "OTHER" }), 403, "M_FORBIDDEN");
  });

  it("refuses malformed keys", async () => {
    const device = await testDevice(ALICE, DEVICE);
    const owner = { userId: ALICE, deviceId: DEVICE };
    await rejectsWith(checkDeviceKeys("keys", owner), 400, "M_BAD_JSON");
    await rejectsWith(checkDeviceKeys({ ...device.deviceKeys, algorithms: [] }, owner), 400, "M_BAD_JSON");
    await rejectsWith(checkDeviceKeys({ ...device.deviceKeys, algorithms: [""] }, owner), 400, "M_BAD_JSON");
    const keys = device.deviceKeys.keys as Record<string, string>;
    await rejectsWith(checkDeviceKeys({ ...device.deviceKeys, keys: { ...keys, "curve25519:OTHER": "x" } }, owner), 400, "M_BAD_JSON");
    const withoutSigningKey = { [`curve25519:${DEVICE}`]: keys[`curve25519:${DEVICE}`] };
    await rejectsWith(checkDeviceKeys({ ...device.deviceKeys, keys: withoutSigningKey }, owner), 400, "M_BAD_JSON");
    await rejectsWith(checkDeviceKeys({ ...device.deviceKeys, keys: { ...keys, [`curve25519:${DEVICE}`]: "AAAA" } }, owner), 400, "M_BAD_JSON");
  });

  it("refuses signatures that do not verify", async () => {
    const device = await testDevice(ALICE, DEVICE);
    const other = await testDevice(ALICE, DEVICE);
    const owner = { userId: ALICE, deviceId: DEVICE };
    const { signatures: _signatures, ...unsigned } = device.deviceKeys;
    await rejectsWith(checkDeviceKeys(await signAs(unsigned, ALICE, DEVICE, other.key), owner), 400, "M_INVALID_PARAM");
    await rejectsWith(checkDeviceKeys({ ...device.deviceKeys, algorithms: ["m.megolm.v1.aes-sha2"] }, owner), 400, "M_INVALID_PARAM");
    await rejectsWith(checkDeviceKeys({ ...unsigned, signatures: {} }, owner), 400, "M_INVALID_PARAM");
  });
});

describe("one-time and fallback keys", () => {
  it("checks signed_curve25519 signatures and keeps other algorithms as they are", async () => {
    const device = await testDevice(ALICE, DEVICE);
    const owner = { userId: ALICE, deviceId: DEVICE };
    const signingKey = device.key.publicKey;
    const signed = await oneTimeKeys(device, 2);
    const checked = await checkUploadedKeys({ ...signed, "curve25519:PLAIN": "zKbLg+NrIjpnagy+pIY6uPL4ZwEG2v+8F9lmgsnlZzs", "org.example.new:X": { any: "thing" } }, owner, signingKey, "one_time_keys");
    assert.deepEqual(
      checked.map((key) => `${key.algorithm}:${key.keyId}`),
      ["signed_curve25519:AAAA0", "signed_curve25519:AAAA1", "curve25519:PLAIN", "org.example.new:X"],
    );
    const [name, key] = Object.entries(signed)[0]!;
    await rejectsWith(checkUploadedKeys({ [name]: { ...key, key: "AAAA" } }, owner, signingKey, "one_time_keys"), 400, "M_BAD_JSON");
    await rejectsWith(checkUploadedKeys({ [name]: key }, owner, (await testDevice(ALICE, DEVICE)).key.publicKey, "one_time_keys"), 400, "M_INVALID_PARAM");
    await rejectsWith(checkUploadedKeys({ [name]: key }, owner, undefined, "one_time_keys"), 400, "M_INVALID_PARAM");
    await rejectsWith(checkUploadedKeys({ "curve25519:PLAIN": { key: "x" } }, owner, signingKey, "one_time_keys"), 400, "M_BAD_JSON");
    await rejectsWith(checkUploadedKeys({ ":X": "key" }, owner, signingKey, "one_time_keys"), 400, "M_BAD_JSON");
    await rejectsWith(checkUploadedKeys([], owner, signingKey, "one_time_keys"), 400, "M_BAD_JSON");
  });

  it("takes at most one fallback key per algorithm", async () => {
    const device = await testDevice(ALICE, DEVICE);
    const owner = { userId: ALICE, deviceId: DEVICE };
    const one = await oneTimeKeys(device, 1, "F", true);
    assert.equal((await checkUploadedKeys(one, owner, device.key.publicKey, "fallback_keys")).length, 1);
    const two = await oneTimeKeys(device, 2, "F", true);
    await rejectsWith(checkUploadedKeys(two, owner, device.key.publicKey, "fallback_keys"), 400, "M_INVALID_PARAM");
  });

  it("splits key names and reports counts the way clients expect", () => {
    assert.deepEqual(parseKeyName("signed_curve25519:AAAAHg"), { algorithm: "signed_curve25519", keyId: "AAAAHg" });
    assert.deepEqual(parseKeyName("a:b:c"), { algorithm: "a", keyId: "b:c" });
    assert.equal(parseKeyName("nocolon"), undefined);
    assert.equal(parseKeyName("trailing:"), undefined);
    assert.deepEqual(oneTimeKeyCountsForClients({}), { signed_curve25519: 0 });
    assert.deepEqual(oneTimeKeyCountsForClients({ signed_curve25519: 4, curve25519: 1 }), { signed_curve25519: 4, curve25519: 1 });
  });
});

describe("cross-signing keys", () => {
  it("accepts a master key and keys signed by it", async () => {
    const keys = await crossSigningKeys(ALICE);
    const master = await checkCrossSigningKey(keys.upload.master_key, ALICE, "master");
    assert.equal(master.publicKey, keys.master.publicKey);
    const selfSigning = await checkCrossSigningKey(keys.upload.self_signing_key, ALICE, "self_signing", master.publicKey);
    assert.equal(selfSigning.publicKey, keys.selfSigning.publicKey);
    assert.equal(crossSigningPublicKey(keys.upload.user_signing_key as { keys: Record<string, string> }), keys.userSigning.publicKey);
  });

  it("refuses keys of other users, malformed keys and missing or wrong signatures", async () => {
    const keys = await crossSigningKeys(ALICE);
    const other = await crossSigningKeys(ALICE);
    await rejectsWith(checkCrossSigningKey(keys.upload.master_key, "@bob:example.org", "master"), 403, "M_FORBIDDEN");
    await rejectsWith(checkCrossSigningKey(keys.upload.master_key, ALICE, "self_signing"), 400, "M_BAD_JSON");
    await rejectsWith(checkCrossSigningKey({ ...keys.upload.master_key, keys: {} }, ALICE, "master"), 400, "M_BAD_JSON");
    const twoKeys = { ...keys.upload.master_key, keys: { [`ed25519:${keys.master.publicKey}`]: keys.master.publicKey, [`ed25519:${other.master.publicKey}`]: other.master.publicKey } };
    await rejectsWith(checkCrossSigningKey(twoKeys, ALICE, "master"), 400, "M_BAD_JSON");
    const misnamed = { ...keys.upload.master_key, keys: { [`ed25519:${other.master.publicKey}`]: keys.master.publicKey } };
    await rejectsWith(checkCrossSigningKey(misnamed, ALICE, "master"), 400, "M_BAD_JSON");
    await rejectsWith(checkCrossSigningKey({ user_id: ALICE, usage: "master", keys: {} }, ALICE, "master"), 400, "M_BAD_JSON");
    await rejectsWith(checkCrossSigningKey(keys.upload.self_signing_key, ALICE, "self_signing", other.master.publicKey), 400, "M_INVALID_SIGNATURE");
    const { signatures: _signatures, ...unsigned } = keys.upload.self_signing_key;
    await rejectsWith(checkCrossSigningKey(unsigned, ALICE, "self_signing", keys.master.publicKey), 400, "M_INVALID_SIGNATURE");
  });
});

describe("signatures", () => {
  it("verifies, lists and compares signed objects", async () => {
    const device = await testDevice(ALICE, DEVICE);
    assert.ok(await hasValidSignature(device.deviceKeys, ALICE, DEVICE, device.key.publicKey));
    assert.ok(!(await hasValidSignature(device.deviceKeys, ALICE, DEVICE, "not a key")));
    assert.ok(!(await hasValidSignature(device.deviceKeys, "@bob:example.org", DEVICE, device.key.publicKey)));
    assert.deepEqual([...signaturesBy(device.deviceKeys, ALICE).keys()], [`ed25519:${DEVICE}`]);
    assert.equal(signaturesBy(device.deviceKeys, "@bob:example.org").size, 0);
    assert.equal(signaturesBy({ signatures: { [ALICE]: { a: 1 } } }, ALICE).size, 0);
    const resigned = await signAs({ ...device.deviceKeys, unsigned: { note: 1 } }, ALICE, "other", device.key);
    assert.ok(sameSignedContent(device.deviceKeys, resigned), "signatures and unsigned do not count");
    assert.ok(!sameSignedContent(device.deviceKeys, { ...device.deviceKeys, algorithms: [] }));
    assert.ok(!sameSignedContent({ n: 1.5 }, { n: 1.5 }), "objects that are not canonical JSON match nothing");
    assert.ok(sameJson({ a: 1, b: [1, 2] }, { b: [1, 2], a: 1 }));
    assert.equal(decodePublicKey("AAAA"), null);
    assert.equal(decodePublicKey(device.key.publicKey)?.length, 32);
  });
});

describe("key backup replacement rule", () => {
  const key = (isVerified: boolean, firstMessageIndex: number, forwardedCount: number) => ({
    is_verified: isVerified,
    first_message_index: firstMessageIndex,
    forwarded_count: forwardedCount,
  });

  it("keeps the verified key, then the earlier index, then the fewer forwards", () => {
    assert.ok(shouldReplaceBackedUpKey(undefined, key(false, 10, 10)));
    assert.ok(shouldReplaceBackedUpKey(key(false, 0, 0), key(true, 10, 10)));
    assert.ok(!shouldReplaceBackedUpKey(key(true, 10, 10), key(false, 0, 0)));
    assert.ok(shouldReplaceBackedUpKey(key(true, 5, 0), key(true, 4, 9)));
    assert.ok(!shouldReplaceBackedUpKey(key(true, 4, 9), key(true, 5, 0)));
    assert.ok(shouldReplaceBackedUpKey(key(false, 4, 2), key(false, 4, 1)));
    assert.ok(!shouldReplaceBackedUpKey(key(false, 4, 1), key(false, 4, 2)));
    assert.ok(!shouldReplaceBackedUpKey(key(false, 4, 1), key(false, 4, 1)), "a tie keeps the stored key");
  });
});
