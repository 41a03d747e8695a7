/** Account data and room tags over HTTP (spec: "Client Config", "Room Tagging"). */
import assert from "node:assert/strict";
import { test } from "node:test";
import { useTestHomeserver } from "../support/homeserver";
import { uniqueName } from "../support/http";

const { api } = useTestHomeserver();

const V3 = "/_matrix/client/v3";
const ROOM = "!someroom:localhost";

test("global and room account data round-trip; other users' data is forbidden", async () => {
  const alice = await api.register(uniqueName("ad"), "pw");
  const bob = await api.register(uniqueName("ad"), "pw");
  const me = encodeURIComponent(alice.user_id);
  const token = alice.access_token;

  const missing = await api.get(`${V3}/user/${me}/account_data/org.example.settings`, { token });
  assert.equal(missing.status, 404);
  assert.equal(missing.body.errcode, "M_NOT_FOUND");
  assert.equal((await api.put(`${V3}/user/${me}/account_data/org.example.settings`, { theme: "dark" }, { token })).status, 200);
  assert.deepEqual((await api.get(`${V3}/user/${me}/account_data/org.example.settings`, { token })).body, { theme: "dark" });
  await api.put(`${V3}/user/${me}/account_data/org.example.settings`, { theme: "light" }, { token });
  assert.deepEqual((await api.get(`${V3}/user/${me}/account_data/org.example.settings`, { token })).body, { theme: "light" });

  const room = encodeURIComponent(ROOM);
  await api.put(`${V3}/user/${me}/rooms/${room}/account_data/org.example.draft`, { text: "hi" }, { token });
  assert.deepEqual((await api.get(`${V3}/user/${me}/rooms/${room}/account_data/org.example.draft`, { token })).body, { text: "hi" });
  assert.equal((await api.get(`${V3}/user/${me}/account_data/org.example.draft`, { token })).status, 404, "room data is not global");

  const foreign = await api.get(`${V3}/user/${me}/account_data/org.example.settings`, { token: bob.access_token });
  assert.equal(foreign.status, 403);
  assert.equal(foreign.body.errcode, "M_FORBIDDEN");
  const serverManaged = await api.put(`${V3}/user/${me}/rooms/${room}/account_data/m.fully_read`, { event_id: "$x" }, { token });
  assert.equal(serverManaged.status, 405);
  const badRoom = await api.put(`${V3}/user/${me}/rooms/not-a-room/account_data/x.y`, {}, { token });
  assert.equal(badRoom.status, 400);
  assert.equal(badRoom.body.errcode, "M_INVALID_PARAM");
  const notObject = await api.put(`${V3}/user/${me}/account_data/x.y`, undefined, { token, rawBody: "[]" });
  assert.equal(notObject.body.errcode, "M_BAD_JSON");
});

test("room tags: add with order, list, remove", async () => {
  const alice = await api.register(uniqueName("tag"), "pw");
  const base = `${V3}/user/${encodeURIComponent(alice.user_id)}/rooms/${encodeURIComponent(ROOM)}/tags`;
  const token = alice.access_token;
  assert.deepEqual((await api.get(base, { token })).body, { tags: {} });
  assert.equal((await api.put(`${base}/m.favourite`, { order: 0.25 }, { token })).status, 200);
  assert.equal((await api.put(`${base}/u.work`, {}, { token })).status, 200);
  assert.deepEqual((await api.get(base, { token })).body, { tags: { "m.favourite": { order: 0.25 }, "u.work": {} } });
  const badOrder = await api.put(`${base}/u.bad`, { order: "first" }, { token });
  assert.equal(badOrder.body.errcode, "M_BAD_JSON");
  assert.equal((await api.delete(`${base}/m.favourite`, undefined, { token })).status, 200);
  assert.deepEqual((await api.get(base, { token })).body, { tags: { "u.work": {} } });
  const tagEvent = await api.get(`${V3}/user/${encodeURIComponent(alice.user_id)}/rooms/${encodeURIComponent(ROOM)}/account_data/m.tag`, { token });
  assert.deepEqual(tagEvent.body, { tags: { "u.work": {} } });
});
