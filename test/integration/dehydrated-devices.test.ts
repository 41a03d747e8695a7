/**
 * Dehydrated devices (MSC3814): upload, read and delete over HTTP, the dehydrated device's to-device
 * messages read page by page, the errors; then matrix-js-sdk's Rust crypto dehydrating a device and a
 * new device of the same user rehydrating it to decrypt a message sent while no device was logged in.
 *
 * The endpoints are unstable, so the OpenAPI definitions do not know them: their responses are checked
 * here, errors against the spec's standard error body.
 */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { MsgType, Preset, type MatrixClient } from "matrix-js-sdk";
import { CryptoEvent } from "matrix-js-sdk/lib/crypto-api/index.js";
import { oneTimeKeys, signAs, testDevice, type Signed, type TestDevice } from "../support/e2ee";
import { useTestHomeserver } from "../support/homeserver";
import { uniqueName, type ApiResponse, type RequestOptions } from "../support/http";
import { V3, assertError, type User } from "../support/rooms";
import { createTestClient, decryptedBodies, startWithRustCrypto, waitFor } from "../support/sdk";

const MSC3814 = "/_matrix/client/unstable/org.matrix.msc3814.v1";
const DEVICE_DATA = { algorithm: "m.dehydration.v2", device_pickle: "opaque to the server", nonce: "n" };

const sdkClients: MatrixClient[] = [];
const homeserver = useTestHomeserver({
  beforeStop: () => {
    for (const client of sdkClients) client.stopClient();
  },
});
const { api, rooms } = homeserver;

/** A request to an MSC3814 endpoint, which the OpenAPI definitions do not describe. */
function unstable<T = Record<string, unknown>>(method: string, path: string, body: unknown, options: RequestOptions): Promise<ApiResponse<T>> {
  return api.request<T>(method, `${MSC3814}${path}`, body, { ...options, checkSpec: false });
}

interface DehydratedDeviceBody {
  device_id: string;
  device_data: Record<string, unknown>;
}

interface EventsBody {
  events: { sender: string; type: string; content: Record<string, unknown> }[];
  next_batch?: string;
}

/** The body of PUT /dehydrated_device for `device`: its device keys, `oneTimeKeyCount` one-time keys and a fallback key. */
async function dehydratedDeviceUpload(device: TestDevice, oneTimeKeyCount = 2): Promise<Record<string, unknown>> {
  return {
    device_id: device.deviceId,
    device_data: DEVICE_DATA,
    initial_device_display_name: "Dehydrated device",
    device_keys: device.deviceKeys,
    one_time_keys: await oneTimeKeys(device, oneTimeKeyCount),
    fallback_keys: await oneTimeKeys(device, 1, "FB", true),
  };
}

/** A new device whose keys carry the `dehydrated` flag, signed with it (the flag is part of the signed JSON). */
async function dehydratedTestDevice(user: User): Promise<TestDevice> {
  const device = await testDevice(user.userId, uniqueName("DEHYDRATED"));
  const unsigned: Signed = { ...device.deviceKeys, dehydrated: true };
  delete unsigned.signatures;
  return { ...device, deviceKeys: await signAs(unsigned, user.userId, device.deviceId, device.key) };
}

async function putDehydratedDevice(user: User, body: Record<string, unknown>) {
  return unstable<{ device_id: string }>("PUT", "/dehydrated_device", body, { token: user.token });
}

async function dehydrate(user: User): Promise<TestDevice> {
  const device = await dehydratedTestDevice(user);
  const put = await putDehydratedDevice(user, await dehydratedDeviceUpload(device));
  assert.equal(put.status, 200, JSON.stringify(put.body));
  assert.deepEqual(put.body, { device_id: device.deviceId });
  return device;
}

async function queriedDevices(who: User, userId: string): Promise<Record<string, Signed>> {
  const response = await api.post<{ device_keys: Record<string, Record<string, Signed>> }>(
    `${V3}/keys/query`,
    { device_keys: { [userId]: [] } },
    { token: who.token },
  );
  assert.equal(response.status, 200, JSON.stringify(response.body));
  return response.body.device_keys[userId] ?? {};
}

async function listedDevices(user: User): Promise<{ device_id: string; display_name?: string; last_seen_ts?: number }[]> {
  const response = await api.get<{ devices: { device_id: string; display_name?: string; last_seen_ts?: number }[] }>(`${V3}/devices`, {
    token: user.token,
  });
  assert.equal(response.status, 200);
  return response.body.devices;
}

let txnCounter = 0;
async function sendToDevice(sender: User, messages: Record<string, Record<string, Record<string, unknown>>>, txnId = `t${++txnCounter}`) {
  const sent = await api.put(`${V3}/sendToDevice/m.test/${txnId}`, { messages }, { token: sender.token });
  assert.equal(sent.status, 200, JSON.stringify(sent.body));
}

function events(user: User, deviceId: string, query = "") {
  return unstable<EventsBody>("GET", `/dehydrated_device/${encodeURIComponent(deviceId)}/events${query}`, undefined, { token: user.token });
}

/** Every message of the dehydrated device, following `next_batch` until it is absent, `limit` per page. */
async function allEvents(user: User, deviceId: string, limit: number): Promise<{ pages: EventsBody[]; contents: unknown[] }> {
  const pages: EventsBody[] = [];
  let from: string | undefined;
  do {
    const page = await events(user, deviceId, `?limit=${limit}${from === undefined ? "" : `&from=${encodeURIComponent(from)}`}`);
    assert.equal(page.status, 200, JSON.stringify(page.body));
    pages.push(page.body);
    from = page.body.next_batch;
  } while (from !== undefined);
  return { pages, contents: pages.flatMap((page) => page.events.map((event) => event.content)) };
}

describe("dehydrated device", () => {
  test("advertised in /versions; none at first (404 M_NOT_FOUND, which is how matrix-js-sdk detects support)", async () => {
    const versions = await api.get<{ unstable_features: Record<string, boolean> }>("/_matrix/client/versions");
    assert.equal(versions.body.unstable_features["org.matrix.msc3814"], true);
    const alice = await rooms.user("alice");
    assertError(await unstable("GET", "/dehydrated_device", undefined, { token: alice.token }), 404, "M_NOT_FOUND");
    assertError(await unstable("DELETE", "/dehydrated_device", undefined, { token: alice.token }), 404, "M_NOT_FOUND");
  });

  test("PUT creates a device with keys and no access token; GET returns it; a new PUT replaces it; DELETE removes it", async () => {
    const alice = await rooms.user("alice");
    const bob = await rooms.user("bob");
    await rooms.join(bob, await rooms.createRoom(alice, { preset: "public_chat" }));
    const bobStart = await api.get<{ next_batch: string }>(`${V3}/sync`, { token: bob.token });

    const first = await dehydrate(alice);
    const got = await unstable<DehydratedDeviceBody>("GET", "/dehydrated_device", undefined, { token: alice.token });
    assert.equal(got.status, 200);
    assert.deepEqual(got.body, { device_id: first.deviceId, device_data: DEVICE_DATA });

    // A device like any other: listed (never seen, as it never logs in), its keys queryable and claimable.
    const listed = (await listedDevices(alice)).find((device) => device.device_id === first.deviceId);
    assert.deepEqual(listed, { device_id: first.deviceId, display_name: "Dehydrated device" });
    const queried = await queriedDevices(bob, alice.userId);
    assert.equal(queried[first.deviceId]?.["dehydrated"], true);
    assert.deepEqual(queried[first.deviceId]?.["unsigned"], { device_display_name: "Dehydrated device" });
    const claimed = await api.post<{ one_time_keys: Record<string, Record<string, Record<string, Signed>>> }>(
      `${V3}/keys/claim`,
      { one_time_keys: { [alice.userId]: { [first.deviceId]: "signed_curve25519" } } },
      { token: bob.token },
    );
    assert.equal(Object.keys(claimed.body.one_time_keys[alice.userId]?.[first.deviceId] ?? {}).length, 1);
    // Users sharing a room learn of the new device.
    const bobNext = await api.get<{ device_lists?: { changed?: string[] } }>(`${V3}/sync?since=${bobStart.body.next_batch}&timeout=0`, {
      token: bob.token,
    });
    assert.ok(bobNext.body.device_lists?.changed?.includes(alice.userId), JSON.stringify(bobNext.body.device_lists));

    // The same device uploaded again keeps its ID; another device replaces it, with its keys.
    assert.equal((await putDehydratedDevice(alice, await dehydratedDeviceUpload(first, 1))).status, 200);
    const second = await dehydrate(alice);
    const afterReplace = await unstable<DehydratedDeviceBody>("GET", "/dehydrated_device", undefined, { token: alice.token });
    assert.equal(afterReplace.body.device_id, second.deviceId);
    const devicesNow = (await listedDevices(alice)).map((device) => device.device_id);
    assert.ok(devicesNow.includes(second.deviceId) && !devicesNow.includes(first.deviceId), JSON.stringify(devicesNow));
    assert.deepEqual(Object.keys(await queriedDevices(bob, alice.userId)), [second.deviceId]);

    const deleted = await unstable<{ device_id: string }>("DELETE", "/dehydrated_device", undefined, { token: alice.token });
    assert.equal(deleted.status, 200);
    assert.deepEqual(deleted.body, { device_id: second.deviceId });
    assertError(await unstable("GET", "/dehydrated_device", undefined, { token: alice.token }), 404, "M_NOT_FOUND");
    assert.deepEqual((await listedDevices(alice)).map((device) => device.device_id), [alice.deviceId]);
    assert.deepEqual(await queriedDevices(bob, alice.userId), {});
    // The user's own session was never touched.
    assert.equal((await api.get(`${V3}/account/whoami`, { token: alice.token })).status, 200);
  });

  test("deleting it as a device (DELETE /devices/{deviceId}) removes it as the dehydrated device too", async () => {
    const alice = await rooms.user("alice");
    const device = await dehydrate(alice);
    const removed = await api.delete(
      `${V3}/devices/${encodeURIComponent(device.deviceId)}`,
      { auth: { type: "m.login.password", identifier: { type: "m.id.user", user: alice.userId }, password: "password" } },
      { token: alice.token },
    );
    assert.equal(removed.status, 200, JSON.stringify(removed.body));
    assertError(await unstable("GET", "/dehydrated_device", undefined, { token: alice.token }), 404, "M_NOT_FOUND");
  });

  test("to-device messages: queued for the dehydrated device, read in pages, exactly once, not deleted by reading", async () => {
    const alice = await rooms.user("alice");
    const bob = await rooms.user("bob");
    const device = await dehydrate(alice);
    const aliceStart = await api.get<{ next_batch: string }>(`${V3}/sync`, { token: alice.token });

    for (let n = 1; n <= 4; n++) await sendToDevice(bob, { [alice.userId]: { [device.deviceId]: { n } } });
    await sendToDevice(bob, { [alice.userId]: { "*": { n: 5 } } }, "to-all");
    await sendToDevice(bob, { [alice.userId]: { "*": { n: 5 } } }, "to-all");

    const { pages, contents } = await allEvents(alice, device.deviceId, 2);
    assert.deepEqual(contents, [{ n: 1 }, { n: 2 }, { n: 3 }, { n: 4 }, { n: 5 }]);
    assert.deepEqual(
      pages.map((page) => page.events.length),
      [2, 2, 1],
    );
    assert.equal(pages[2]!.next_batch, undefined, "the last page has no next_batch");
    assert.deepEqual(pages[0]!.events[0], { sender: bob.userId, type: "m.test", content: { n: 1 } });

    // Reading deletes nothing: a rehydration cut short starts again from the beginning.
    assert.deepEqual((await allEvents(alice, device.deviceId, 100)).contents, contents);
    // Later messages follow on from the last page's position.
    const firstPages = await events(alice, device.deviceId, "?limit=4");
    assert.ok(firstPages.body.next_batch !== undefined);
    await sendToDevice(bob, { [alice.userId]: { [device.deviceId]: { n: 6 } } });
    const rest = await events(alice, device.deviceId, `?from=${firstPages.body.next_batch}`);
    assert.deepEqual(
      rest.body.events.map((event) => event.content),
      [{ n: 5 }, { n: 6 }],
    );

    // The earlier draft's POST: next_batch in the body, and always in the response.
    const path = `/dehydrated_device/${encodeURIComponent(device.deviceId)}/events`;
    const posted = await unstable<EventsBody>("POST", `${path}?limit=3`, {}, { token: alice.token });
    assert.equal(posted.status, 200, JSON.stringify(posted.body));
    assert.equal(posted.body.events.length, 3);
    const postedRest = await unstable<EventsBody>("POST", path, { next_batch: posted.body.next_batch }, { token: alice.token });
    assert.deepEqual(
      postedRest.body.events.map((event) => event.content),
      [{ n: 4 }, { n: 5 }, { n: 6 }],
    );
    const postedEnd = await unstable<EventsBody>("POST", path, { next_batch: postedRest.body.next_batch }, { token: alice.token });
    assert.deepEqual(postedEnd.body.events, []);
    assert.equal(typeof postedEnd.body.next_batch, "string");

    // Alice's own device got only the message sent to all her devices.
    const aliceSync = await api.get<{ to_device?: EventsBody }>(`${V3}/sync?since=${aliceStart.body.next_batch}&timeout=0`, {
      token: alice.token,
    });
    assert.deepEqual(
      aliceSync.body.to_device?.events.map((event) => event.content),
      [{ n: 5 }],
    );

    // Replacing the dehydrated device drops what was queued for the old one.
    const replacement = await dehydrate(alice);
    assert.deepEqual((await allEvents(alice, replacement.deviceId, 100)).contents, []);
  });

  test("errors: missing and malformed fields, keys of another device, bad signatures, a device ID in use", async () => {
    const alice = await rooms.user("alice");
    const device = await dehydratedTestDevice(alice);
    const valid = await dehydratedDeviceUpload(device);
    const without = (field: string) => Object.fromEntries(Object.entries(valid).filter(([name]) => name !== field));

    assertError(await putDehydratedDevice(alice, without("device_keys")), 400, "M_MISSING_PARAM");
    assertError(await putDehydratedDevice(alice, without("device_id")), 400, "M_MISSING_PARAM");
    assertError(await putDehydratedDevice(alice, without("device_data")), 400, "M_MISSING_PARAM");
    assertError(await putDehydratedDevice(alice, { ...valid, device_data: { account: "x" } }), 400, "M_MISSING_PARAM");
    assertError(await putDehydratedDevice(alice, { ...valid, device_data: "not an object" }), 400, "M_BAD_JSON");
    assertError(await putDehydratedDevice(alice, { ...valid, device_keys: [] }), 400, "M_BAD_JSON");
    assertError(await putDehydratedDevice(alice, { ...valid, device_id: "SOMEOTHERDEVICE" }), 403, "M_FORBIDDEN");
    assertError(
      await putDehydratedDevice(alice, { ...valid, device_keys: { ...(valid["device_keys"] as Signed), algorithms: ["m.olm.v2"] } }),
      400,
      "M_INVALID_PARAM",
    );
    const other = await testDevice(alice.userId, device.deviceId);
    assertError(await putDehydratedDevice(alice, { ...valid, one_time_keys: await oneTimeKeys(other, 1) }), 400, "M_INVALID_PARAM");
    assertError(
      await unstable("PUT", "/dehydrated_device", undefined, { token: alice.token, rawBody: "{not json" }),
      400,
      "M_NOT_JSON",
    );
    // A logged-in device cannot become the dehydrated device.
    const loggedIn = await testDevice(alice.userId, alice.deviceId);
    assertError(await putDehydratedDevice(alice, await dehydratedDeviceUpload(loggedIn)), 400, "M_INVALID_PARAM");
    // Nothing was stored by any of these.
    assertError(await unstable("GET", "/dehydrated_device", undefined, { token: alice.token }), 404, "M_NOT_FOUND");
    assert.deepEqual(Object.keys(await queriedDevices(alice, alice.userId)), []);
  });

  test("errors of /events: no dehydrated device, another device, bad tokens and limits; every endpoint needs a token", async () => {
    const alice = await rooms.user("alice");
    assertError(await events(alice, "NOSUCHDEVICE"), 403, "M_FORBIDDEN");
    const device = await dehydrate(alice);
    assertError(await events(alice, alice.deviceId), 403, "M_FORBIDDEN");
    const bob = await rooms.user("bob");
    assertError(await events(bob, device.deviceId), 403, "M_FORBIDDEN");
    assertError(await events(alice, device.deviceId, "?from=nonsense"), 400, "M_INVALID_PARAM");
    assertError(await events(alice, device.deviceId, "?limit=0"), 400, "M_INVALID_PARAM");
    assertError(await events(alice, device.deviceId, "?limit=-1"), 400, "M_INVALID_PARAM");
    const path = `/dehydrated_device/${encodeURIComponent(device.deviceId)}/events`;
    assertError(await unstable("POST", path, { next_batch: 12 }, { token: alice.token }), 400, "M_BAD_JSON");
    assertError(await unstable("POST", path, { next_batch: "x" }, { token: alice.token }), 400, "M_INVALID_PARAM");
    assertError(await unstable("PATCH", "/dehydrated_device", {}, { token: alice.token }), 405, "M_UNRECOGNIZED");

    for (const [method, endpoint] of [
      ["GET", "/dehydrated_device"],
      ["PUT", "/dehydrated_device"],
      ["DELETE", "/dehydrated_device"],
      ["GET", path],
      ["POST", path],
    ] as const) {
      assertError(await unstable(method, endpoint, method === "PUT" || method === "POST" ? {} : undefined, {}), 401, "M_MISSING_TOKEN");
      assertError(await unstable(method, endpoint, undefined, { token: "syt_bogus" }), 401, "M_UNKNOWN_TOKEN");
    }
  });
});

const PASSWORD = "a good password";

interface Session {
  user_id: string;
  access_token: string;
  device_id: string;
}

/**
 * A syncing client with Rust crypto. `secretStorageKey` holds the user's secret storage key once it is
 * made: the client asks for it to read and write secrets (cross-signing keys, the dehydration key).
 */
async function startCryptoClient(session: Session, secretStorageKey: { key?: Uint8Array<ArrayBuffer> } = {}, initialSyncLimit = 20): Promise<MatrixClient> {
  const client = createTestClient({
    baseUrl: homeserver.server.url,
    accessToken: session.access_token,
    userId: session.user_id,
    deviceId: session.device_id,
    cryptoCallbacks: {
      getSecretStorageKey: async ({ keys }) => {
        const keyId = Object.keys(keys)[0];
        return keyId === undefined || secretStorageKey.key === undefined ? null : [keyId, secretStorageKey.key];
      },
    },
  });
  sdkClients.push(client);
  await startWithRustCrypto(client, initialSyncLimit);
  return client;
}

test("matrix-js-sdk: a device dehydrates; after it logs out, a new device rehydrates it and decrypts what was sent meanwhile", async () => {
  const aliceName = uniqueName("alice");
  const secretStorageKey: { key?: Uint8Array<ArrayBuffer> } = {};
  const authUploadDeviceSigningKeys = async (makeRequest: (auth: Record<string, unknown>) => Promise<unknown>) => {
    await makeRequest({ type: "m.login.password", identifier: { type: "m.id.user", user: aliceName }, password: PASSWORD });
  };
  const alicePhone = await startCryptoClient(await api.register(aliceName, PASSWORD), secretStorageKey);
  const aliceId = alicePhone.getSafeUserId();
  const aliceToken = { token: alicePhone.getAccessToken()! };
  const phoneCrypto = alicePhone.getCrypto()!;
  assert.ok(await phoneCrypto.isDehydrationSupported());

  // Dehydration needs cross-signing (the dehydrated device is signed by the user) and secret storage
  // (which keeps the key the device is encrypted with).
  await phoneCrypto.bootstrapCrossSigning({ authUploadDeviceSigningKeys });
  await phoneCrypto.bootstrapSecretStorage({
    setupNewSecretStorage: true,
    createSecretStorageKey: async () => {
      const generated = await phoneCrypto.createRecoveryKeyFromPassphrase();
      secretStorageKey.key = generated.privateKey;
      return generated;
    },
  });
  await phoneCrypto.startDehydration({ createNewKey: true });
  const dehydrated = await unstable<DehydratedDeviceBody>("GET", "/dehydrated_device", undefined, aliceToken);
  assert.equal(dehydrated.status, 200, JSON.stringify(dehydrated.body));
  assert.equal(typeof dehydrated.body.device_data["algorithm"], "string");
  const dehydratedId = dehydrated.body.device_id;

  const bob = await startCryptoClient(await api.register(uniqueName("bob"), PASSWORD));
  const bobId = bob.getSafeUserId();
  const bobUser: User = { userId: bobId, token: bob.getAccessToken()!, deviceId: bob.getDeviceId()! };
  // Others see the dehydrated device, flagged and signed by alice's self-signing key.
  const queried = (await queriedDevices(bobUser, aliceId))[dehydratedId];
  assert.equal(queried?.["dehydrated"], true, JSON.stringify(queried));
  assert.ok(Object.keys(queried?.signatures?.[aliceId] ?? {}).length >= 2, JSON.stringify(queried?.signatures));

  const { room_id: roomId } = await alicePhone.createRoom({
    preset: Preset.PrivateChat,
    invite: [bobId],
    initial_state: [{ type: "m.room.encryption", state_key: "", content: { algorithm: "m.megolm.v1.aes-sha2" } }],
  });
  await waitFor("bob to be invited", () => (bob.getRoom(roomId)?.getMyMembership() === "invite" ? true : undefined));
  await bob.joinRoom(roomId);
  await waitFor("alice to see bob join", () => (alicePhone.getRoom(roomId)?.getMember(bobId)?.membership === "join" ? true : undefined));

  // Alice's only device logs out: from now on only the dehydrated device receives her room keys.
  await alicePhone.logout(true);
  await waitFor("bob to see alice's phone gone", async () => {
    const devices = (await bob.getCrypto()!.getUserDeviceInfo([aliceId], true)).get(aliceId);
    return devices !== undefined && !devices.has(alicePhone.getDeviceId()!) && devices.has(dehydratedId) ? true : undefined;
  });
  await waitFor("bob to know the room is encrypted", async () => ((await bob.getCrypto()!.isEncryptionEnabledInRoom(roomId)) ? true : undefined));
  await bob.sendMessage(roomId, { msgtype: MsgType.Text, body: "sent while alice was away" });

  // A new device of alice: it takes the cross-signing keys from secret storage, then rehydrates.
  const laptopSession = await api.login(aliceName, PASSWORD);
  const queuedForDehydrated = await allEvents({ userId: aliceId, token: laptopSession.access_token, deviceId: laptopSession.device_id }, dehydratedId, 100);
  assert.ok(
    queuedForDehydrated.pages.some((page) => page.events.some((event) => event.type === "m.room.encrypted" && event.sender === bobId)),
    "bob's room key went to the dehydrated device, Olm-encrypted",
  );
  const aliceLaptop = await startCryptoClient(laptopSession, secretStorageKey);
  const laptopCrypto = aliceLaptop.getCrypto()!;
  // The private keys are imported only once the public ones are known, from the laptop's own keys query.
  await waitFor("the laptop to know alice's cross-signing keys", async () =>
    (await laptopCrypto.getCrossSigningStatus()).publicKeysOnDevice ? true : undefined,
  );
  await laptopCrypto.bootstrapCrossSigning({ authUploadDeviceSigningKeys });
  let rehydrated = false;
  aliceLaptop.on(CryptoEvent.RehydrationCompleted, () => {
    rehydrated = true;
  });
  await laptopCrypto.startDehydration();
  assert.ok(rehydrated, "the laptop rehydrated the dehydrated device");
  await waitFor("the laptop to decrypt bob's message", async () =>
    (await decryptedBodies(aliceLaptop, roomId)).includes("sent while alice was away") ? true : undefined,
  );

  // Having rehydrated it, the laptop replaced the dehydrated device with a new one.
  const replaced = await unstable<DehydratedDeviceBody>("GET", "/dehydrated_device", undefined, { token: aliceLaptop.getAccessToken()! });
  assert.equal(replaced.status, 200);
  assert.notEqual(replaced.body.device_id, dehydratedId);
});
