/**
 * End-to-end encryption over HTTP: key upload, query and claim (one-time keys never handed out twice,
 * even to concurrent claims), key counts and device list changes in sync, to-device messages delivered
 * exactly once across reconnects, cross-signing, and the spec's errors for bad input. Every response is
 * checked against the OpenAPI definitions.
 */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { crossSigningKeys, oneTimeKeys, signAs, testDevice, type Signed, type TestDevice } from "../support/e2ee";
import { useTestHomeserver } from "../support/homeserver";
import { uniqueName } from "../support/http";
import { V3, assertError, type User } from "../support/rooms";

const { api, rooms } = useTestHomeserver();

interface SyncBody {
  next_batch: string;
  to_device?: { events: { sender: string; type: string; content: Record<string, unknown> }[] };
  device_lists?: { changed?: string[]; left?: string[] };
  device_one_time_keys_count?: Record<string, number>;
  device_unused_fallback_key_types?: string[];
}

async function sync(who: User, since?: string, timeout = 0): Promise<SyncBody> {
  const query = since === undefined ? "" : `?since=${since}&timeout=${timeout}`;
  const response = await api.get<SyncBody>(`${V3}/sync${query}`, { token: who.token });
  assert.equal(response.status, 200, JSON.stringify(response.body));
  return response.body;
}

async function upload(who: User, body: Record<string, unknown>) {
  return api.post<{ one_time_key_counts: Record<string, number> }>(`${V3}/keys/upload`, body, { token: who.token });
}

/** A user whose device has uploaded its device keys. */
async function userWithKeys(prefix: string): Promise<{ user: User; device: TestDevice }> {
  const user = await rooms.user(prefix);
  const device = await testDevice(user.userId, user.deviceId);
  const uploaded = await upload(user, { device_keys: device.deviceKeys });
  assert.equal(uploaded.status, 200, JSON.stringify(uploaded.body));
  return { user, device };
}

interface QueryBody {
  device_keys: Record<string, Record<string, Signed & { unsigned?: { device_display_name?: string } }>>;
  master_keys?: Record<string, Signed>;
  self_signing_keys?: Record<string, Signed>;
  user_signing_keys?: Record<string, Signed>;
  failures?: Record<string, unknown>;
}

async function query(who: User, deviceKeys: Record<string, string[]>): Promise<QueryBody> {
  const response = await api.post<QueryBody>(`${V3}/keys/query`, { device_keys: deviceKeys }, { token: who.token });
  assert.equal(response.status, 200, JSON.stringify(response.body));
  return response.body;
}

type ClaimBody = { one_time_keys: Record<string, Record<string, Record<string, Signed>>>; failures?: Record<string, unknown> };

async function claim(who: User, wanted: Record<string, Record<string, string>>): Promise<ClaimBody> {
  const response = await api.post<ClaimBody>(`${V3}/keys/claim`, { one_time_keys: wanted }, { token: who.token });
  assert.equal(response.status, 200, JSON.stringify(response.body));
  return response.body;
}

describe("keys", () => {
  test("upload, query, claim: one-time keys first, then the fallback key; counts in every sync", async () => {
    const { user: alice, device } = await userWithKeys("alice");
    const bob = await rooms.user("bob");
    const initial = await sync(alice);
    assert.deepEqual(initial.device_one_time_keys_count, { signed_curve25519: 0 });
    assert.deepEqual(initial.device_unused_fallback_key_types, []);

    const keys = await oneTimeKeys(device, 3);
    const fallback = await oneTimeKeys(device, 1, "FB", true);
    const uploaded = await upload(alice, { one_time_keys: keys, fallback_keys: fallback });
    assert.equal(uploaded.status, 200, JSON.stringify(uploaded.body));
    assert.deepEqual(uploaded.body.one_time_key_counts, { signed_curve25519: 3 });
    // Uploading the same keys again changes nothing.
    assert.deepEqual((await upload(alice, { one_time_keys: keys })).body.one_time_key_counts, { signed_curve25519: 3 });

    const afterUpload = await sync(alice, initial.next_batch);
    assert.deepEqual(afterUpload.device_one_time_keys_count, { signed_curve25519: 3 });
    assert.deepEqual(afterUpload.device_unused_fallback_key_types, ["signed_curve25519"]);

    const queried = await query(bob, { [alice.userId]: [], "@someone:remote.example": [] });
    assert.deepEqual(queried.device_keys[alice.userId]?.[alice.deviceId]?.keys, device.deviceKeys.keys);
    assert.deepEqual(queried.device_keys[alice.userId]?.[alice.deviceId]?.signatures, device.deviceKeys.signatures);
    assert.ok(queried.failures?.["remote.example"], "the remote server is reported, not made up");
    assert.deepEqual(await query(bob, { [alice.userId]: ["NOSUCHDEVICE"] }).then((body) => body.device_keys), { [alice.userId]: {} });

    const claimed = new Set<string>();
    for (let n = 0; n < 3; n++) {
      const body = await claim(bob, { [alice.userId]: { [alice.deviceId]: "signed_curve25519" } });
      const [name, key] = Object.entries(body.one_time_keys[alice.userId]?.[alice.deviceId] ?? {})[0] ?? [];
      assert.ok(name !== undefined && keys[name] !== undefined, `a one-time key: ${JSON.stringify(body)}`);
      assert.deepEqual(key, keys[name]);
      claimed.add(name);
    }
    assert.equal(claimed.size, 3);
    // Out of one-time keys: the fallback key, as often as asked, until replaced.
    for (let n = 0; n < 2; n++) {
      const body = await claim(bob, { [alice.userId]: { [alice.deviceId]: "signed_curve25519" } });
      assert.deepEqual(body.one_time_keys[alice.userId]?.[alice.deviceId], fallback);
    }
    const afterClaims = await sync(alice, afterUpload.next_batch);
    assert.deepEqual(afterClaims.device_one_time_keys_count, { signed_curve25519: 0 });
    assert.deepEqual(afterClaims.device_unused_fallback_key_types, [], "the fallback key was used");
    const remote = await claim(bob, { "@someone:remote.example": { DEVICE: "signed_curve25519" } });
    assert.ok(remote.failures?.["remote.example"]);
    assert.deepEqual(remote.one_time_keys, {});
  });

  test("concurrent claims never get the same one-time key", async () => {
    const { user: alice, device } = await userWithKeys("alice");
    const keys = await oneTimeKeys(device, 20);
    const fallback = await oneTimeKeys(device, 1, "FB", true);
    assert.equal((await upload(alice, { one_time_keys: keys, fallback_keys: fallback })).status, 200);
    const claimers = await Promise.all([1, 2, 3].map(() => rooms.user("claimer")));
    const results = await Promise.all(
      Array.from({ length: 30 }, (_, n) => claim(claimers[n % 3]!, { [alice.userId]: { [alice.deviceId]: "signed_curve25519" } })),
    );
    const names = results.map((body) => Object.keys(body.one_time_keys[alice.userId]?.[alice.deviceId] ?? {})[0]);
    const fallbackName = Object.keys(fallback)[0];
    const oneTimeNames = names.filter((name) => name !== fallbackName);
    assert.equal(oneTimeNames.length, 20, "every one-time key was handed out");
    assert.equal(new Set(oneTimeNames).size, 20, "none of them twice");
    assert.equal(names.filter((name) => name === fallbackName).length, 10, "then the fallback key");
    const counts = await sync(alice);
    assert.deepEqual(counts.device_one_time_keys_count, { signed_curve25519: 0 });
  });

  test("bad uploads get the spec's errors", async () => {
    const alice = await rooms.user("alice");
    const bob = await rooms.user("bob");
    const device = await testDevice(alice.userId, alice.deviceId);

    // Keys for another user's device, or for another device of one's own.
    const bobsDevice = await testDevice(bob.userId, bob.deviceId);
    assertError(await upload(alice, { device_keys: bobsDevice.deviceKeys }), 403, "M_FORBIDDEN");
    const otherDevice = await testDevice(alice.userId, "OTHERDEVICE");
    assertError(await upload(alice, { device_keys: otherDevice.deviceKeys }), 403, "M_FORBIDDEN");
    // Malformed keys.
    assertError(await upload(alice, { device_keys: { ...device.deviceKeys, keys: "nope" } }), 400, "M_BAD_JSON");
    assertError(
      await upload(alice, { device_keys: { ...device.deviceKeys, keys: { [`ed25519:${alice.deviceId}`]: "not base64!" } } }),
      400,
      "M_BAD_JSON",
    );
    const { signatures: _signatures, ...unsignedKeys } = device.deviceKeys;
    assertError(await upload(alice, { device_keys: unsignedKeys }), 400, "M_MISSING_PARAM");
    // A signature that does not verify: by another key, or over other content.
    const forged = await signAs({ ...unsignedKeys }, alice.userId, alice.deviceId, otherDevice.key);
    assertError(await upload(alice, { device_keys: forged }), 400, "M_INVALID_PARAM");
    assertError(await upload(alice, { device_keys: { ...device.deviceKeys, algorithms: ["m.megolm.v1.aes-sha2"] } }), 400, "M_INVALID_PARAM");

    // Nothing was stored by the failed uploads.
    assert.deepEqual((await query(bob, { [alice.userId]: [] })).device_keys[alice.userId], {});
    assert.equal((await upload(alice, { device_keys: device.deviceKeys })).status, 200);

    // One-time keys: bad names, bad keys, bad signatures, and a key ID reused with other content.
    const [name, key] = Object.entries(await oneTimeKeys(device, 1))[0]!;
    assertError(await upload(alice, { one_time_keys: { nocolon: key } }), 400, "M_BAD_JSON");
    assertError(await upload(alice, { one_time_keys: { [name]: { ...key, key: "short" } } }), 400, "M_BAD_JSON");
    assertError(await upload(alice, { one_time_keys: { [name]: "an unsigned key" } }), 400, "M_BAD_JSON");
    const wronglySigned = await signAs({ key: key.key }, alice.userId, alice.deviceId, otherDevice.key);
    assertError(await upload(alice, { one_time_keys: { [name]: wronglySigned } }), 400, "M_INVALID_PARAM");
    assert.equal((await upload(alice, { one_time_keys: { [name]: key } })).status, 200);
    const [, otherKey] = Object.entries(await oneTimeKeys(device, 1, "OTHER"))[0]!;
    assertError(await upload(alice, { one_time_keys: { [name]: otherKey } }), 400, "M_INVALID_PARAM");
    const twoFallbacks = await oneTimeKeys(device, 2, "FB", true);
    assertError(await upload(alice, { fallback_keys: twoFallbacks }), 400, "M_INVALID_PARAM");
    assertError(await upload(alice, { one_time_keys: "nope" }), 400, "M_BAD_JSON");

    const badQuery = await api.post(`${V3}/keys/query`, { device_keys: { [bob.userId]: "all" } }, { token: alice.token });
    assertError(badQuery, 400, "M_BAD_JSON");
    assertError(await api.post(`${V3}/keys/claim`, {}, { token: alice.token }), 400, "M_MISSING_PARAM");
  });
});

/** Syncs until `device_lists.left` is not empty: leaving is checked against the membership index after the leave. */
async function nextLeft(who: User, since: string): Promise<{ left: string[]; since: string }> {
  let token = since;
  for (let attempt = 0; attempt < 20; attempt++) {
    const next = await sync(who, token, 1000);
    token = next.next_batch;
    const left = next.device_lists?.left ?? [];
    if (left.length > 0) return { left, since: token };
  }
  return { left: [], since: token };
}

describe("device lists", () => {
  test("key changes reach users sharing a room; leaving shows in left; deleted devices lose their keys", async () => {
    const { user: alice } = await userWithKeys("alice");
    const bob = await rooms.user("bob");
    const carol = await rooms.user("carol");
    const roomId = await rooms.createRoom(alice, { preset: "public_chat" });
    await rooms.join(bob, roomId);
    const bobStart = await sync(bob);
    const carolStart = await sync(carol);

    // Alice's second device uploads its keys: bob, who shares the room, sees the change; carol does not.
    const login = await api.post<{ access_token: string; device_id: string }>(`${V3}/login`, {
      type: "m.login.password",
      identifier: { type: "m.id.user", user: alice.userId },
      password: "password",
    });
    const aliceLaptop: User = { userId: alice.userId, token: login.body.access_token, deviceId: login.body.device_id };
    const laptop = await testDevice(alice.userId, aliceLaptop.deviceId);
    assert.equal((await upload(aliceLaptop, { device_keys: laptop.deviceKeys })).status, 200);
    const bobAfterKeys = await sync(bob, bobStart.next_batch);
    assert.deepEqual(bobAfterKeys.device_lists?.changed, [alice.userId]);
    assert.deepEqual((await sync(carol, carolStart.next_batch)).device_lists?.changed, []);
    const changes = await api.get<{ changed: string[]; left: string[] }>(
      `${V3}/keys/changes?from=${bobStart.next_batch}&to=${bobAfterKeys.next_batch}`,
      { token: bob.token },
    );
    assert.deepEqual(changes.body, { changed: [alice.userId], left: [] });
    assert.deepEqual(Object.keys((await query(bob, { [alice.userId]: [] })).device_keys[alice.userId]!).sort(), [alice.deviceId, aliceLaptop.deviceId].sort());

    // Logging the laptop out deletes its keys, and is a change too.
    assert.equal((await api.post(`${V3}/logout`, {}, { token: aliceLaptop.token })).status, 200);
    const bobAfterLogout = await sync(bob, bobAfterKeys.next_batch);
    assert.deepEqual(bobAfterLogout.device_lists?.changed, [alice.userId]);
    assert.deepEqual(Object.keys((await query(bob, { [alice.userId]: [] })).device_keys[alice.userId]!), [alice.deviceId]);
    // Display names show in /keys/query, so renaming a device is a change as well.
    assert.equal((await api.put(`${V3}/devices/${alice.deviceId}`, { display_name: "Phone" }, { token: alice.token })).status, 200);
    assert.deepEqual((await sync(bob, bobAfterLogout.next_batch)).device_lists?.changed, [alice.userId]);
    const renamed = (await query(bob, { [alice.userId]: [] })).device_keys[alice.userId]?.[alice.deviceId];
    assert.equal(renamed?.unsigned?.device_display_name, "Phone");

    // Carol joins: she and the members now share a room, so each side sees the other as changed.
    const aliceBefore = await sync(alice);
    await rooms.join(carol, roomId);
    const carolJoined = await sync(carol, carolStart.next_batch);
    assert.deepEqual(carolJoined.device_lists?.changed?.sort(), [alice.userId, bob.userId].sort());
    const aliceSeesCarol = await sync(alice, aliceBefore.next_batch);
    assert.deepEqual(aliceSeesCarol.device_lists?.changed, [carol.userId]);

    // Bob also shares a second room with alice: leaving the first one is `left` for carol (and carol for
    // bob), not for alice; leaving both is.
    const second = await rooms.createRoom(alice, { preset: "public_chat" });
    await rooms.join(bob, second);
    const [aliceMark, bobMark, carolMark] = await Promise.all([sync(alice), sync(bob), sync(carol)]);
    await rooms.membership(bob, roomId, "leave");
    assert.deepEqual((await nextLeft(carol, carolMark.next_batch)).left, [bob.userId]);
    const bobLeftCarol = await nextLeft(bob, bobMark.next_batch);
    assert.deepEqual(bobLeftCarol.left, [carol.userId]);
    const stillShared = await sync(alice, aliceMark.next_batch);
    assert.deepEqual(stillShared.device_lists?.left, []);
    await rooms.membership(bob, second, "leave");
    const aliceLeft = await nextLeft(alice, stillShared.next_batch);
    assert.deepEqual(aliceLeft.left, [bob.userId]);
    assert.deepEqual((await nextLeft(bob, bobLeftCarol.since)).left, [alice.userId]);
    const since = aliceLeft.since;
    // Bob's device keys are no longer news for alice: a key change of bob's does not reach her.
    const bobDevice = await testDevice(bob.userId, bob.deviceId);
    assert.equal((await upload(bob, { device_keys: bobDevice.deviceKeys })).status, 200);
    assert.deepEqual((await sync(alice, since)).device_lists?.changed, []);
  });
});

describe("to-device messages", () => {
  const send = (sender: User, txnId: string, messages: Record<string, Record<string, Record<string, unknown>>>, type = "m.test") =>
    api.put(`${V3}/sendToDevice/${type}/${txnId}`, { messages }, { token: sender.token });

  test("delivered exactly once: repeated transactions, unacknowledged re-delivery, acknowledged deletion", async () => {
    const alice = await rooms.user("alice");
    const bob = await rooms.user("bob");
    const start = await sync(bob);
    const txnId = uniqueName("txn");
    assert.equal((await send(alice, txnId, { [bob.userId]: { [bob.deviceId]: { n: 1 } } })).status, 200);
    assert.equal((await send(alice, txnId, { [bob.userId]: { [bob.deviceId]: { n: 1 } } })).status, 200, "a repeated transaction");

    const first = await sync(bob, start.next_batch);
    assert.deepEqual(first.to_device?.events, [{ sender: alice.userId, type: "m.test", content: { n: 1 } }]);
    // The response was lost: syncing with the old token again gets the message again.
    const retried = await sync(bob, start.next_batch);
    assert.deepEqual(retried.to_device?.events, first.to_device?.events);
    // Syncing with the new token acknowledges it: gone, even for the old token.
    assert.deepEqual((await sync(bob, retried.next_batch)).to_device?.events, []);
    assert.deepEqual((await sync(bob, start.next_batch)).to_device?.events, []);
  });

  test("`*` reaches every device of the user; a long-poll wakes for a message", async () => {
    const alice = await rooms.user("alice");
    const bob = await rooms.user("bob");
    const login = await api.post<{ access_token: string; device_id: string }>(`${V3}/login`, {
      type: "m.login.password",
      identifier: { type: "m.id.user", user: bob.userId },
      password: "password",
    });
    const bobPhone: User = { userId: bob.userId, token: login.body.access_token, deviceId: login.body.device_id };
    const start = await sync(bob);
    const phoneStart = await sync(bobPhone);
    const waiting = sync(bobPhone, phoneStart.next_batch, 10_000);
    await new Promise((resolve) => setTimeout(resolve, 200));
    const sentAt = Date.now();
    assert.equal((await send(alice, uniqueName("txn"), { [bob.userId]: { "*": { hello: "all" } } })).status, 200);
    const woken = await waiting;
    assert.ok(Date.now() - sentAt < 5_000, "the long-poll returned when the message arrived");
    assert.deepEqual(woken.to_device?.events.map((event) => event.content), [{ hello: "all" }]);
    assert.deepEqual((await sync(bob, start.next_batch)).to_device?.events.map((event) => event.content), [{ hello: "all" }]);
    // A device logged in later is among "all devices" too.
    const laterLogin = await api.post<{ access_token: string; device_id: string }>(`${V3}/login`, {
      type: "m.login.password",
      identifier: { type: "m.id.user", user: bob.userId },
      password: "password",
    });
    const bobTablet: User = { userId: bob.userId, token: laterLogin.body.access_token, deviceId: laterLogin.body.device_id };
    const tabletStart = await sync(bobTablet);
    assert.equal((await send(alice, uniqueName("txn"), { [bob.userId]: { "*": { hello: "again" } } })).status, 200);
    assert.deepEqual((await sync(bobTablet, tabletStart.next_batch)).to_device?.events.map((event) => event.content), [{ hello: "again" }]);
    // Unknown devices and other servers' users get nothing, and the request still succeeds.
    assert.equal((await send(alice, uniqueName("txn"), { [bob.userId]: { NOSUCHDEVICE: {} }, "@x:remote.example": { D: {} } })).status, 200);
  });

  test("at most 100 per sync; the rest come with the next one, in order", async () => {
    const alice = await rooms.user("alice");
    const bob = await rooms.user("bob");
    const start = await sync(bob);
    for (let n = 0; n < 150; n++) {
      assert.equal((await send(alice, `bulk${n}`, { [bob.userId]: { [bob.deviceId]: { n } } })).status, 200);
    }
    const first = await sync(bob, start.next_batch);
    assert.deepEqual(first.to_device?.events.map((event) => event.content.n), Array.from({ length: 100 }, (_, n) => n));
    const second = await sync(bob, first.next_batch, 10_000);
    assert.deepEqual(second.to_device?.events.map((event) => event.content.n), Array.from({ length: 50 }, (_, n) => 100 + n));
    assert.deepEqual((await sync(bob, second.next_batch)).to_device?.events, []);
  });

  test("deleting a device deletes its pending messages", async () => {
    const alice = await rooms.user("alice");
    const bob = await rooms.user("bob");
    assert.equal((await send(alice, uniqueName("txn"), { [bob.userId]: { [bob.deviceId]: { pending: true } } })).status, 200);
    const login = await api.post<{ access_token: string }>(`${V3}/login`, {
      type: "m.login.password",
      identifier: { type: "m.id.user", user: bob.userId },
      password: "password",
      device_id: bob.deviceId,
    });
    assert.equal((await api.post(`${V3}/logout/all`, {}, { token: login.body.access_token })).status, 200);
    const again = await api.post<{ access_token: string; device_id: string }>(`${V3}/login`, {
      type: "m.login.password",
      identifier: { type: "m.id.user", user: bob.userId },
      password: "password",
      device_id: bob.deviceId,
    });
    const sameDevice: User = { userId: bob.userId, token: again.body.access_token, deviceId: bob.deviceId };
    assert.deepEqual((await sync(sameDevice)).to_device?.events, []);
  });
});

describe("cross-signing", () => {
  test("first upload without UIA, replacement with it; signatures on devices and master keys", async () => {
    const { user: alice, device } = await userWithKeys("alice");
    const { user: bob } = await userWithKeys("bob");
    const aliceKeys = await crossSigningKeys(alice.userId);
    // A UIA challenge (401) is not among this endpoint's documented responses.
    const signingUpload = (who: User, body: Record<string, unknown>) =>
      api.post(`${V3}/keys/device_signing/upload`, body, { token: who.token, checkSpec: false });

    assert.equal((await signingUpload(alice, aliceKeys.upload)).status, 200);
    assert.equal((await signingUpload(alice, aliceKeys.upload)).status, 200, "repeating the same keys needs no UIA");
    const replacement = await crossSigningKeys(alice.userId);
    const challenge = await signingUpload(alice, replacement.upload);
    assert.equal(challenge.status, 401);
    assert.deepEqual((challenge.body as { flows: unknown }).flows, [{ stages: ["m.login.password"] }]);
    const auth = { type: "m.login.password", identifier: { type: "m.id.user", user: alice.userId }, password: "password" };
    assert.equal((await signingUpload(alice, { ...replacement.upload, auth: { ...auth, password: "wrong" } })).status, 401);
    assert.equal((await signingUpload(alice, { ...replacement.upload, auth })).status, 200);

    const seenByBob = await query(bob, { [alice.userId]: [] });
    assert.deepEqual(seenByBob.master_keys?.[alice.userId], replacement.upload.master_key);
    assert.deepEqual(seenByBob.self_signing_keys?.[alice.userId], replacement.upload.self_signing_key);
    assert.equal(seenByBob.user_signing_keys?.[alice.userId], undefined, "only alice sees her user-signing key");
    assert.deepEqual((await query(alice, { [alice.userId]: [] })).user_signing_keys?.[alice.userId], replacement.upload.user_signing_key);

    // Alice signs her device with her self-signing key, and her master key with her device.
    const signedDevice = await signAs(device.deviceKeys, alice.userId, replacement.selfSigning.publicKey, replacement.selfSigning);
    const signedMaster = await signAs(replacement.upload.master_key, alice.userId, alice.deviceId, device.key);
    const forgedMaster = await signAs(replacement.upload.master_key, alice.userId, alice.deviceId, replacement.userSigning);
    const bobMark = await sync(bob);
    const own = await api.post<{ failures: Record<string, Record<string, { errcode: string }>> }>(
      `${V3}/keys/signatures/upload`,
      { [alice.userId]: { [alice.deviceId]: signedDevice, NOSUCHDEVICE: signedDevice } },
      { token: alice.token },
    );
    assert.equal(own.status, 200);
    assert.equal(own.body.failures[alice.userId]?.["NOSUCHDEVICE"]?.errcode, "M_NOT_FOUND");
    assert.equal(own.body.failures[alice.userId]?.[alice.deviceId], undefined);
    const masterUpload = await api.post<{ failures: Record<string, Record<string, { errcode: string }>> }>(
      `${V3}/keys/signatures/upload`,
      { [alice.userId]: { [replacement.master.publicKey]: forgedMaster } },
      { token: alice.token },
    );
    assert.equal(masterUpload.body.failures[alice.userId]?.[replacement.master.publicKey]?.errcode, "M_INVALID_SIGNATURE");
    await api.post(`${V3}/keys/signatures/upload`, { [alice.userId]: { [replacement.master.publicKey]: signedMaster } }, { token: alice.token });

    const afterSigning = await query(bob, { [alice.userId]: [] });
    assert.equal(
      afterSigning.device_keys[alice.userId]?.[alice.deviceId]?.signatures?.[alice.userId]?.[`ed25519:${replacement.selfSigning.publicKey}`],
      signedDevice.signatures?.[alice.userId]?.[`ed25519:${replacement.selfSigning.publicKey}`],
    );
    assert.ok(afterSigning.master_keys?.[alice.userId]?.signatures?.[alice.userId]?.[`ed25519:${alice.deviceId}`]);
    assert.deepEqual((await sync(bob, bobMark.next_batch)).device_lists?.changed, [], "bob shares no room with alice");

    // Bob verifies alice: his user-signing key signs her master key; only bob sees that signature.
    const bobKeys = await crossSigningKeys(bob.userId);
    assert.equal((await signingUpload(bob, bobKeys.upload)).status, 200);
    const bobsSignature = await signAs(replacement.upload.master_key, bob.userId, bobKeys.userSigning.publicKey, bobKeys.userSigning);
    const bobsUpload = await api.post<{ failures: Record<string, unknown> }>(
      `${V3}/keys/signatures/upload`,
      { [alice.userId]: { [replacement.master.publicKey]: bobsSignature } },
      { token: bob.token },
    );
    assert.deepEqual(bobsUpload.body.failures, {});
    const bobView = await query(bob, { [alice.userId]: [] });
    assert.ok(bobView.master_keys?.[alice.userId]?.signatures?.[bob.userId]);
    const carol = await rooms.user("carol");
    assert.equal((await query(carol, { [alice.userId]: [] })).master_keys?.[alice.userId]?.signatures?.[bob.userId], undefined);
  });

  test("bad cross-signing keys get the spec's errors", async () => {
    const alice = await rooms.user("alice");
    const bob = await rooms.user("bob");
    const aliceKeys = await crossSigningKeys(alice.userId);
    const bobKeys = await crossSigningKeys(bob.userId);
    const signingUpload = (body: Record<string, unknown>) => api.post(`${V3}/keys/device_signing/upload`, body, { token: alice.token });
    assertError(await signingUpload({ master_key: bobKeys.upload.master_key }), 403, "M_FORBIDDEN");
    assertError(await signingUpload({ self_signing_key: aliceKeys.upload.self_signing_key }), 400, "M_MISSING_PARAM");
    assertError(
      await signingUpload({ master_key: aliceKeys.upload.master_key, self_signing_key: bobKeys.upload.self_signing_key }),
      403,
      "M_FORBIDDEN",
    );
    const signedByOther = await signAs(
      { ...aliceKeys.upload.self_signing_key, signatures: {} },
      alice.userId,
      aliceKeys.master.publicKey,
      aliceKeys.userSigning,
    );
    assertError(await signingUpload({ master_key: aliceKeys.upload.master_key, self_signing_key: signedByOther }), 400, "M_INVALID_SIGNATURE");
    assertError(await signingUpload({ master_key: { ...aliceKeys.upload.master_key, keys: {} } }), 400, "M_BAD_JSON");
    assertError(await signingUpload({ master_key: { ...aliceKeys.upload.master_key, usage: ["self_signing"] } }), 400, "M_BAD_JSON");
    // A key whose ID is also the ID of one of the user's devices.
    const clashing = await crossSigningKeys(alice.userId);
    const login = await api.post(`${V3}/login`, {
      type: "m.login.password",
      identifier: { type: "m.id.user", user: alice.userId },
      password: "password",
      device_id: clashing.master.publicKey,
    });
    assert.equal(login.status, 200);
    assertError(await signingUpload({ master_key: clashing.upload.master_key }), 403, "M_FORBIDDEN");
  });
});
