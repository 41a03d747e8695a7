/**
 * Server-side key backups over HTTP: versions (create, latest, by number, update, delete), keys for all
 * rooms, a room and a session, `etag` and `count`, the spec's rule for replacing a stored key, and
 * M_WRONG_ROOM_KEYS_VERSION. Every response is checked against the OpenAPI definitions.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { useTestHomeserver } from "../support/homeserver";
import { V3, assertError, type User } from "../support/rooms";

const { api, rooms } = useTestHomeserver();

const ALGORITHM = "m.megolm_backup.v1.curve25519-aes-sha2";
const ROOM = "!room:localhost";

interface VersionInfo {
  algorithm: string;
  auth_data: Record<string, unknown>;
  count: number;
  etag: string;
  version: string;
}

interface KeyData {
  first_message_index: number;
  forwarded_count: number;
  is_verified: boolean;
  session_data: Record<string, unknown>;
}

const keyData = (firstMessageIndex: number, forwardedCount: number, isVerified: boolean, ciphertext: string): KeyData => ({
  first_message_index: firstMessageIndex,
  forwarded_count: forwardedCount,
  is_verified: isVerified,
  session_data: { ephemeral: "ephemeral", ciphertext, mac: "mac" },
});

async function createVersion(who: User, authData: Record<string, unknown> = { public_key: "abc" }): Promise<string> {
  const created = await api.post<{ version: string }>(`${V3}/room_keys/version`, { algorithm: ALGORITHM, auth_data: authData }, { token: who.token });
  assert.equal(created.status, 200, JSON.stringify(created.body));
  return created.body.version;
}

async function versionInfo(who: User, version?: string) {
  return api.get<VersionInfo>(`${V3}/room_keys/version${version === undefined ? "" : `/${version}`}`, { token: who.token });
}

const keysPath = (version: string, roomId?: string, sessionId?: string) =>
  `${V3}/room_keys/keys${roomId === undefined ? "" : `/${encodeURIComponent(roomId)}`}${sessionId === undefined ? "" : `/${encodeURIComponent(sessionId)}`}?version=${version}`;

test("backup versions: none, create, latest, by number, update, delete", async () => {
  const alice = await rooms.user("alice");
  const bob = await rooms.user("bob");
  assertError(await versionInfo(alice), 404, "M_NOT_FOUND");

  const first = await createVersion(alice);
  const info = await versionInfo(alice);
  assert.equal(info.status, 200);
  assert.deepEqual({ ...info.body, etag: undefined }, { algorithm: ALGORITHM, auth_data: { public_key: "abc" }, count: 0, etag: undefined, version: first });
  assert.equal(typeof info.body.etag, "string");
  assertError(await versionInfo(bob), 404, "M_NOT_FOUND");
  assertError(await versionInfo(bob, first), 404, "M_NOT_FOUND");

  const second = await createVersion(alice, { public_key: "def" });
  assert.notEqual(second, first);
  assert.equal((await versionInfo(alice)).body.version, second, "the newest version is the current one");
  assert.equal((await versionInfo(alice, first)).body.auth_data.public_key, "abc");
  assertError(await versionInfo(alice, "999"), 404, "M_NOT_FOUND");
  assertError(await versionInfo(alice, "not-a-version"), 404, "M_NOT_FOUND");

  const update = (version: string, body: Record<string, unknown>) => api.put(`${V3}/room_keys/version/${version}`, body, { token: alice.token });
  assert.equal((await update(second, { algorithm: ALGORITHM, auth_data: { public_key: "def", signatures: {} } })).status, 200);
  assert.deepEqual((await versionInfo(alice, second)).body.auth_data, { public_key: "def", signatures: {} });
  assertError(await update(second, { algorithm: "m.other", auth_data: {} }), 400, "M_INVALID_PARAM");
  assertError(await update(second, { algorithm: ALGORITHM, auth_data: {}, version: first }), 400, "M_INVALID_PARAM");
  assertError(await update("999", { algorithm: ALGORITHM, auth_data: {} }), 404, "M_NOT_FOUND");
  assertError(await update(second, { algorithm: ALGORITHM }), 400, "M_MISSING_PARAM");

  const remove = (version: string) => api.delete(`${V3}/room_keys/version/${version}`, undefined, { token: alice.token });
  assert.equal((await remove(second)).status, 200);
  assert.equal((await remove(second)).status, 200, "deleting again succeeds");
  assertError(await versionInfo(alice, second), 404, "M_NOT_FOUND");
  assert.equal((await versionInfo(alice)).body.version, first, "the previous version is current again");
  assertError(await remove("999"), 404, "M_NOT_FOUND");
  const third = await createVersion(alice);
  assert.ok(Number(third) > Number(second), "a deleted version's number is not reused");
});

test("backup keys: etag and count, the replacement rule, rooms and sessions, wrong versions", async () => {
  const alice = await rooms.user("alice");
  const version = await createVersion(alice);
  const put = (body: unknown, roomId?: string, sessionId?: string, v = version) =>
    api.put<{ etag: string; count: number }>(keysPath(v, roomId, sessionId), body, { token: alice.token });

  const initialEtag = (await versionInfo(alice)).body.etag;
  const stored = await put(keyData(5, 1, false, "first"), ROOM, "session1");
  assert.equal(stored.status, 200, JSON.stringify(stored.body));
  assert.equal(stored.body.count, 1);
  assert.notEqual(stored.body.etag, initialEtag);

  // A key that decrypts from a later message does not replace the stored one: nothing changes.
  const worse = await put(keyData(7, 0, false, "worse"), ROOM, "session1");
  assert.deepEqual(worse.body, stored.body);
  // Forwarded more often, at the same index: kept out too.
  assert.deepEqual((await put(keyData(5, 2, false, "forwarded"), ROOM, "session1")).body, stored.body);
  const get = () => api.get<KeyData>(keysPath(version, ROOM, "session1"), { token: alice.token });
  assert.equal((await get()).body.session_data.ciphertext, "first");
  // Forwarded fewer times: replaces it.
  const fewerForwards = await put(keyData(5, 0, false, "fewer forwards"), ROOM, "session1");
  assert.notEqual(fewerForwards.body.etag, stored.body.etag);
  assert.equal((await get()).body.session_data.ciphertext, "fewer forwards");
  // A verified key beats an unverified one whatever its index; an unverified one never replaces it.
  await put(keyData(9, 3, true, "verified"), ROOM, "session1");
  assert.equal((await get()).body.session_data.ciphertext, "verified");
  await put(keyData(0, 0, false, "earlier but unverified"), ROOM, "session1");
  assert.equal((await get()).body.session_data.ciphertext, "verified");
  await put(keyData(2, 3, true, "verified and earlier"), ROOM, "session1");
  assert.equal((await get()).body.session_data.ciphertext, "verified and earlier");

  // Several sessions of a room, and several rooms.
  const byRoom = await put({ sessions: { session2: keyData(0, 0, false, "two"), session3: keyData(0, 0, false, "three") } }, ROOM);
  assert.equal(byRoom.body.count, 3);
  const all = await put({ rooms: { "!other:localhost": { sessions: { session4: keyData(0, 0, true, "four") } } } });
  assert.equal(all.body.count, 4);
  const everything = await api.get<{ rooms: Record<string, { sessions: Record<string, KeyData> }> }>(keysPath(version), { token: alice.token });
  assert.deepEqual(Object.keys(everything.body.rooms[ROOM]!.sessions).sort(), ["session1", "session2", "session3"]);
  assert.equal(everything.body.rooms["!other:localhost"]?.sessions["session4"]?.session_data.ciphertext, "four");
  const oneRoom = await api.get<{ sessions: Record<string, KeyData> }>(keysPath(version, ROOM), { token: alice.token });
  assert.equal(Object.keys(oneRoom.body.sessions).length, 3);
  assert.deepEqual((await api.get(keysPath(version, "!empty:localhost"), { token: alice.token })).body, { sessions: {} });
  assertError(await api.get(keysPath(version, ROOM, "nosuchsession"), { token: alice.token }), 404, "M_NOT_FOUND");
  const info = (await versionInfo(alice)).body;
  assert.equal(info.count, 4);
  assert.equal(info.etag, all.body.etag);

  // Deleting a session, a room, everything: count follows and the etag changes each time.
  const deleted = await api.delete<{ etag: string; count: number }>(keysPath(version, ROOM, "session2"), undefined, { token: alice.token });
  assert.equal(deleted.body.count, 3);
  assert.notEqual(deleted.body.etag, all.body.etag);
  assert.equal((await api.delete<{ count: number }>(keysPath(version, ROOM), undefined, { token: alice.token })).body.count, 1);
  assert.equal((await api.delete<{ count: number }>(keysPath(version), undefined, { token: alice.token })).body.count, 0);

  // Only the current version takes keys.
  const newer = await createVersion(alice);
  const wrong = await put(keyData(0, 0, false, "late"), ROOM, "session1");
  assertError(wrong, 403, "M_WRONG_ROOM_KEYS_VERSION");
  assert.equal((wrong.body as { current_version?: string }).current_version, newer);
  assertError(await put(keyData(0, 0, false, "nowhere"), ROOM, "session1", "999"), 404, "M_NOT_FOUND");
  assert.equal((await put(keyData(0, 0, false, "current"), ROOM, "session1", newer)).body.count, 1);
  // The old version can still be read; deleted versions cannot.
  assert.deepEqual((await api.get(keysPath(version), { token: alice.token })).body, { rooms: {} });
  await api.delete(`${V3}/room_keys/version/${newer}`, undefined, { token: alice.token });
  assertError(await api.get(keysPath(newer), { token: alice.token }), 404, "M_NOT_FOUND");

  // Bad input.
  assertError(await api.put(`${V3}/room_keys/keys/${encodeURIComponent(ROOM)}/s`, keyData(0, 0, false, "x"), { token: alice.token }), 400, "M_MISSING_PARAM");
  assertError(await put({ first_message_index: 0 }, ROOM, "s", version), 400, "M_MISSING_PARAM");
  assertError(await put({ ...keyData(0, 0, false, "x"), is_verified: "yes" }, ROOM, "s", version), 400, "M_BAD_JSON");
});
