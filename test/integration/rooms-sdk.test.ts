/**
 * Rooms as matrix-js-sdk uses them (without /sync, which is not there yet): two users create a room,
 * invite and join, exchange 20 messages that come back in send order, repeat a transaction ID, run into
 * power levels and bans, and redact.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { Direction, EventType, KnownMembership, MatrixError, MsgType, Preset, type IEvent, type MatrixClient } from "matrix-js-sdk";
import { useTestHomeserver } from "../support/homeserver";
import { uniqueName } from "../support/http";
import { createTestClient } from "../support/sdk";

const homeserver = useTestHomeserver();

async function signedInClient(prefix: string): Promise<MatrixClient> {
  const registered = await homeserver.api.register(uniqueName(prefix), "password");
  return createTestClient({
    baseUrl: homeserver.server.url,
    accessToken: registered.access_token,
    userId: registered.user_id,
    deviceId: registered.device_id,
  });
}

async function rejectsWith(pending: Promise<unknown>, errcode: string, httpStatus = 403): Promise<void> {
  await assert.rejects(pending, (error: unknown) => {
    assert.ok(error instanceof MatrixError, String(error));
    assert.equal(error.errcode, errcode);
    assert.equal(error.httpStatus, httpStatus);
    return true;
  });
}

/** The room's timeline from its start, via /messages forwards. */
async function timeline(client: MatrixClient, roomId: string): Promise<Partial<IEvent>[]> {
  const events: Partial<IEvent>[] = [];
  let from: string | null = null;
  for (;;) {
    const page = await client.createMessagesRequest(roomId, from, 8, Direction.Forward);
    events.push(...page.chunk);
    if (page.end === undefined || page.chunk.length === 0) return events;
    from = page.end;
  }
}

test("matrix-js-sdk: create, invite, join, 20 ordered messages, txn IDs, power levels, bans, redaction", async () => {
  const alice = await signedInClient("alice");
  const bob = await signedInClient("bob");
  const aliceId = alice.getSafeUserId();
  const bobId = bob.getSafeUserId();

  const { room_id: roomId } = await alice.createRoom({ preset: Preset.PrivateChat, name: "SDK room", topic: "via matrix-js-sdk" });
  await rejectsWith(bob.joinRoom(roomId), "M_FORBIDDEN");
  await alice.invite(roomId, bobId);
  const joined = await bob.joinRoom(roomId);
  assert.equal(joined.roomId, roomId);
  assert.deepEqual((await bob.getJoinedRooms()).joined_rooms, [roomId]);
  assert.deepEqual(Object.keys((await alice.getJoinedRoomMembers(roomId)).joined).sort(), [aliceId, bobId].sort());

  const sent: string[] = [];
  for (let index = 0; index < 20; index++) {
    const sender = index % 2 === 0 ? alice : bob;
    const { event_id } = await sender.sendMessage(roomId, { msgtype: MsgType.Text, body: `message ${index}` });
    sent.push(event_id);
  }
  const first = await alice.sendEvent(roomId, EventType.RoomMessage, { msgtype: MsgType.Text, body: "once" }, "sdk-txn-1");
  const again = await alice.sendEvent(roomId, EventType.RoomMessage, { msgtype: MsgType.Text, body: "once" }, "sdk-txn-1");
  assert.equal(again.event_id, first.event_id, "a repeated txnId returns the same event ID");

  const events = await timeline(bob, roomId);
  const messages = events.filter((event) => event.type === EventType.RoomMessage);
  assert.deepEqual(messages.map((event) => event.event_id), [...sent, first.event_id]);
  assert.deepEqual(messages.slice(0, 20).map((event) => event.content?.body), sent.map((_, index) => `message ${index}`));
  assert.equal(events[0]?.type, EventType.RoomCreate);
  const latest = await alice.createMessagesRequest(roomId, null, 1, Direction.Backward);
  assert.equal(latest.chunk[0]?.event_id, first.event_id);

  // Bob has power level 0.
  await rejectsWith(bob.setPowerLevel(roomId, bobId, 100), "M_FORBIDDEN");
  await rejectsWith(bob.kick(roomId, aliceId, "no"), "M_FORBIDDEN");
  await rejectsWith(bob.ban(roomId, aliceId), "M_FORBIDDEN");
  const powerLevels = await alice.getStateEvent(roomId, EventType.RoomPowerLevels, "");
  assert.equal(powerLevels.users?.[bobId], undefined);

  // A redaction empties the content.
  const { event_id: redactionId } = await alice.redactEvent(roomId, sent[1]!, undefined, { reason: "moderated" });
  const redacted = await alice.fetchRoomEvent(roomId, sent[1]!);
  assert.deepEqual(redacted.content, {});
  assert.equal((redacted.unsigned?.redacted_because as Partial<IEvent> | undefined)?.event_id, redactionId);

  // A banned user cannot rejoin, until unbanned.
  await alice.ban(roomId, bobId, "bye");
  await rejectsWith(bob.joinRoom(roomId), "M_FORBIDDEN");
  await rejectsWith(bob.sendMessage(roomId, { msgtype: MsgType.Text, body: "still here?" }), "M_FORBIDDEN");
  assert.deepEqual((await bob.getJoinedRooms()).joined_rooms, []);
  await alice.unban(roomId, bobId);
  await alice.invite(roomId, bobId);
  await bob.joinRoom(roomId);
  await bob.leave(roomId);
  await bob.forget(roomId);

  const stillIn = await alice.members(roomId, undefined, KnownMembership.Leave);
  assert.deepEqual(stillIn.chunk?.map((event) => event.state_key), [aliceId]);
});
