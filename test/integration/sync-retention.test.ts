/**
 * The sync stream's retention (SYNC_STREAM_RETENTION_MS): once a token is older than the stream keeps,
 * a sync from it is answered as a full sync (every room with its full state, every device list the
 * client may track as changed) and /keys/changes lists everyone; newer tokens stay exact.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { useTestHomeserver } from "../support/homeserver";
import { V3, type User } from "../support/rooms";

const { api, rooms } = useTestHomeserver({ vars: { SYNC_STREAM_RETENTION_MS: "1000" } });

interface SyncBody {
  next_batch: string;
  rooms?: { join?: Record<string, { timeline?: { events: { type: string; content: Record<string, unknown> }[] }; state?: { events: { type: string }[] } }> };
  device_lists?: { changed?: string[]; left?: string[] };
}

async function sync(who: User, since?: string): Promise<SyncBody> {
  const response = await api.get<SyncBody>(`${V3}/sync${since === undefined ? "" : `?since=${since}`}`, { token: who.token });
  assert.equal(response.status, 200, JSON.stringify(response.body));
  return response.body;
}

const bodies = (body: SyncBody, roomId: string) =>
  (body.rooms?.join?.[roomId]?.timeline?.events ?? []).filter((e) => e.type === "m.room.message").map((e) => e.content.body);

test("a token older than the retained stream gets a full sync; newer tokens stay exact", async () => {
  const alice = await rooms.user("alice");
  const bob = await rooms.user("bob");
  const roomId = await rooms.createRoom(alice, { preset: "public_chat", name: "Kept" });
  await rooms.join(bob, roomId);
  const old = (await sync(alice)).next_batch;

  // Keep syncing (each sync records where the stream stood) until the old token has fallen behind.
  let since = old;
  let sent = 0;
  const deadline = Date.now() + 1600;
  while (Date.now() < deadline) {
    await rooms.send(bob, roomId, { msgtype: "m.text", body: `message ${sent}` });
    sent += 1;
    const next = await sync(alice, since);
    assert.deepEqual(bodies(next, roomId), [`message ${sent - 1}`], "recent tokens are answered exactly");
    since = next.next_batch;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }

  const expired = await sync(alice, old);
  const room = expired.rooms?.join?.[roomId];
  assert.ok(room, "the room is there");
  assert.ok(room.state?.events.some((e) => e.type === "m.room.create"), "with its full state");
  assert.ok(bodies(expired, roomId).includes(`message ${sent - 1}`));
  assert.deepEqual([...(expired.device_lists?.changed ?? [])].sort(), [alice.userId, bob.userId].sort());
  const changes = await api.get<{ changed: string[]; left: string[] }>(`${V3}/keys/changes?from=${old}&to=${expired.next_batch}`, {
    token: alice.token,
  });
  assert.equal(changes.status, 200);
  assert.deepEqual([...changes.body.changed].sort(), [alice.userId, bob.userId].sort());

  // The token the expired sync returned, like the newest exact one, is incremental again.
  await rooms.send(bob, roomId, { msgtype: "m.text", body: "after" });
  assert.deepEqual(bodies(await sync(alice, expired.next_batch), roomId), ["after"]);
  const fromRecent = await sync(alice, since);
  assert.deepEqual(bodies(fromRecent, roomId), ["after"]);
  assert.equal(fromRecent.rooms?.join?.[roomId]?.state?.events.some((e) => e.type === "m.room.create"), false);
});
