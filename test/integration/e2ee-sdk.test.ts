/**
 * End-to-end encryption as matrix-js-sdk's Rust crypto stack uses it: two users exchange messages in an
 * encrypted room and each decrypts the other's; a new device of one of them gets the keys of messages
 * sent after it appeared; cross-signing bootstrap and key backup creation succeed.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { MsgType, Preset, type MatrixClient } from "matrix-js-sdk";
import { useTestHomeserver } from "../support/homeserver";
import { uniqueName } from "../support/http";
import { createTestClient, decryptedBodies, startWithRustCrypto, waitFor } from "../support/sdk";

const clients: MatrixClient[] = [];
const homeserver = useTestHomeserver({
  beforeStop: () => {
    for (const client of clients) client.stopClient();
  },
});
const { api } = homeserver;

const PASSWORD = "a good password";

/** A logged-in client with Rust crypto, syncing; its first sync shows `initialSyncLimit` events of each room. */
async function startCryptoClient(
  session: { user_id: string; access_token: string; device_id: string },
  initialSyncLimit = 20,
): Promise<MatrixClient> {
  const client = createTestClient({
    baseUrl: homeserver.server.url,
    accessToken: session.access_token,
    userId: session.user_id,
    deviceId: session.device_id,
  });
  clients.push(client);
  await startWithRustCrypto(client, initialSyncLimit);
  return client;
}

async function waitForBody(client: MatrixClient, roomId: string, body: string): Promise<void> {
  await waitFor(`${client.getUserId()}/${client.getDeviceId()} to decrypt "${body}"`, async () =>
    (await decryptedBodies(client, roomId)).includes(body) ? true : undefined,
  );
}

test("matrix-js-sdk with Rust crypto: encrypted messages both ways, a new device, cross-signing, key backup", async () => {
  const aliceName = uniqueName("alice");
  const bobName = uniqueName("bob");
  const alice = await startCryptoClient(await api.register(aliceName, PASSWORD));
  const bob = await startCryptoClient(await api.register(bobName, PASSWORD));
  const aliceId = alice.getSafeUserId();
  const bobId = bob.getSafeUserId();

  const { room_id: roomId } = await alice.createRoom({
    preset: Preset.PrivateChat,
    invite: [bobId],
    initial_state: [{ type: "m.room.encryption", state_key: "", content: { algorithm: "m.megolm.v1.aes-sha2" } }],
  });
  await waitFor("bob to be invited", () => (bob.getRoom(roomId)?.getMyMembership() === "invite" ? true : undefined));
  await bob.joinRoom(roomId);
  await waitFor("alice to see bob join", () => (alice.getRoom(roomId)?.getMember(bobId)?.membership === "join" ? true : undefined));
  assert.ok(await alice.getCrypto()!.isEncryptionEnabledInRoom(roomId));

  await alice.sendMessage(roomId, { msgtype: MsgType.Text, body: "hello from alice" });
  await waitForBody(bob, roomId, "hello from alice");
  await waitFor("bob to know the room is encrypted", async () => ((await bob.getCrypto()!.isEncryptionEnabledInRoom(roomId)) ? true : undefined));
  await bob.sendMessage(roomId, { msgtype: MsgType.Text, body: "hello from bob" });
  await waitForBody(alice, roomId, "hello from bob");

  // The server only ever saw ciphertext.
  const history = await api.get<{ chunk: { type: string; content: Record<string, unknown> }[] }>(
    `/_matrix/client/v3/rooms/${encodeURIComponent(roomId)}/messages?dir=b&limit=10`,
    { token: alice.getAccessToken()! },
  );
  assert.ok(history.body.chunk.filter((event) => event.type === "m.room.encrypted").length >= 2);
  assert.ok(!JSON.stringify(history.body.chunk).includes("hello from"));

  // A second device of alice appears; bob's next message is encrypted for it too. The new device starts
  // from the newest event, an unencrypted topic: matrix-js-sdk keeps every message it cannot decrypt (the
  // ones from before it existed) watched for five minutes, which would keep this test's process alive.
  await alice.setRoomTopic(roomId, "encrypted from here on");
  const aliceLaptop = await startCryptoClient(await api.login(aliceName, PASSWORD), 1);
  await waitFor("bob to learn of alice's new device", async () => {
    const devices = await bob.getCrypto()!.getUserDeviceInfo([aliceId], true);
    return devices.get(aliceId)?.has(aliceLaptop.getDeviceId()!) ? true : undefined;
  });
  await bob.sendMessage(roomId, { msgtype: MsgType.Text, body: "for both of alice's devices" });
  await waitForBody(aliceLaptop, roomId, "for both of alice's devices");
  await waitForBody(alice, roomId, "for both of alice's devices");
  await aliceLaptop.sendMessage(roomId, { msgtype: MsgType.Text, body: "from alice's laptop" });
  await waitForBody(bob, roomId, "from alice's laptop");
  await waitForBody(alice, roomId, "from alice's laptop");

  // Cross-signing: the first upload needs no authentication, but matrix-js-sdk offers it anyway.
  await alice.getCrypto()!.bootstrapCrossSigning({
    authUploadDeviceSigningKeys: async (makeRequest) => {
      await makeRequest({ type: "m.login.password", identifier: { type: "m.id.user", user: aliceName }, password: PASSWORD });
    },
  });
  const status = await alice.getCrypto()!.getCrossSigningStatus();
  assert.ok(status.publicKeysOnDevice, JSON.stringify(status));
  assert.ok(status.privateKeysCachedLocally.masterKey && status.privateKeysCachedLocally.selfSigningKey, JSON.stringify(status));
  assert.ok(await alice.getCrypto()!.isCrossSigningReady());
  // Bob sees alice's identity, and alice's device is signed by it.
  await waitFor("bob to see alice's cross-signing identity", async () =>
    (await bob.getCrypto()!.getUserVerificationStatus(aliceId)).isCrossSigningVerified() ||
    (await bob.getCrypto()!.userHasCrossSigningKeys(aliceId, true))
      ? true
      : undefined,
  );
  // The client learns of its device's new signature from its own keys query, after the sync that follows.
  await waitFor("alice's device to be signed by her self-signing key", async () =>
    (await alice.getCrypto()!.getDeviceVerificationStatus(aliceId, alice.getDeviceId()!))?.signedByOwner ? true : undefined,
  );

  // Replacing the cross-signing keys needs the password.
  await alice.getCrypto()!.bootstrapCrossSigning({
    setupNewCrossSigning: true,
    authUploadDeviceSigningKeys: async (makeRequest) => {
      await makeRequest({ type: "m.login.password", identifier: { type: "m.id.user", user: aliceName }, password: PASSWORD });
    },
  });
  assert.ok(await alice.getCrypto()!.isCrossSigningReady());

  // Key backup: a new version, which the client then fills with its room keys.
  await alice.getCrypto()!.resetKeyBackup();
  const backup = await alice.getCrypto()!.getKeyBackupInfo();
  assert.ok(backup?.version, "a backup version exists");
  const trust = await alice.getCrypto()!.isKeyBackupTrusted(backup);
  assert.ok(trust.trusted, "the backup is signed by alice's device or identity");
  await waitFor("alice's room keys to be backed up", async () => {
    const info = await api.get<{ count: number; version: string }>("/_matrix/client/v3/room_keys/version", {
      token: alice.getAccessToken()!,
    });
    return info.body.version === backup.version && info.body.count > 0 ? true : undefined;
  });
});
