/**
 * /sync as matrix-js-sdk uses it: two users with running clients (startClient) see each other's
 * messages in order, typing, receipts, display-name changes, and the room's name and topic.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { ClientEvent, type MatrixClient, type Room } from "matrix-js-sdk";
import { useTestHomeserver } from "../support/homeserver";
import { uniqueName } from "../support/http";
import { createTestClient } from "../support/sdk";

const clients: MatrixClient[] = [];
const homeserver = useTestHomeserver({
  beforeStop: () => {
    for (const client of clients) client.stopClient();
  },
});

async function startedClient(prefix: string): Promise<MatrixClient> {
  const registered = await homeserver.api.register(uniqueName(prefix), "pw");
  const client = createTestClient({
    baseUrl: homeserver.server.url,
    accessToken: registered.access_token,
    userId: registered.user_id,
    deviceId: registered.device_id,
  });
  clients.push(client);
  const prepared = new Promise<void>((resolve) => {
    client.on(ClientEvent.Sync, (state) => {
      if (state === "PREPARED") resolve();
    });
  });
  await client.startClient({ initialSyncLimit: 20 });
  await prepared;
  return client;
}

async function waitFor<T>(what: string, probe: () => T | undefined | false, timeoutMs = 10_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = probe();
    if (value !== undefined && value !== false) return value;
    if (Date.now() > deadline) assert.fail(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

const messageBodies = (room: Room): unknown[] =>
  room
    .getLiveTimeline()
    .getEvents()
    .filter((event) => event.getType() === "m.room.message")
    .map((event) => event.getContent().body);

test("two running clients see messages in order, typing, receipts, names and topics", async () => {
  const alice = await startedClient("alice");
  const bob = await startedClient("bob");
  const { room_id: roomId } = await alice.createRoom({ name: "Book club", topic: "Chapter 1", invite: [bob.getUserId()!] });

  await waitFor("bob's invite", () => bob.getRoom(roomId)?.getMyMembership() === "invite");
  await bob.joinRoom(roomId);
  await waitFor("bob's join at alice", () => alice.getRoom(roomId)?.getMember(bob.getUserId()!)?.membership === "join");

  for (let index = 0; index < 10; index++) await alice.sendTextMessage(roomId, `message ${index}`);
  const bobRoom = await waitFor("bob's room", () => bob.getRoom(roomId) ?? undefined);
  await waitFor("ten messages at bob", () => messageBodies(bobRoom).length === 10);
  assert.deepEqual(messageBodies(bobRoom), Array.from({ length: 10 }, (_, index) => `message ${index}`));
  assert.equal(bobRoom.name, "Book club");
  assert.equal(bobRoom.currentState.getStateEvents("m.room.topic", "")?.getContent().topic, "Chapter 1");

  // A long-poll wakes within moments of the other user's send.
  const started = Date.now();
  await alice.sendTextMessage(roomId, "quick");
  await waitFor("the quick message", () => messageBodies(bobRoom).includes("quick"));
  const wakeUp = Date.now() - started;
  assert.ok(wakeUp < 2000, `bob saw the message after ${wakeUp} ms`);

  await alice.sendTyping(roomId, true, 5000);
  await waitFor("alice typing at bob", () => bobRoom.getMember(alice.getUserId()!)?.typing === true);
  await alice.sendTyping(roomId, false, 0);
  await waitFor("alice stopped typing", () => bobRoom.getMember(alice.getUserId()!)?.typing === false);

  const lastEvent = bobRoom.getLiveTimeline().getEvents().at(-1)!;
  await bob.sendReadReceipt(lastEvent);
  const aliceRoom = alice.getRoom(roomId)!;
  await waitFor("bob's receipt at alice", () => aliceRoom.getEventReadUpTo(bob.getUserId()!) === lastEvent.getId());

  await alice.setDisplayName("Alice Liddell");
  await waitFor("alice's new name at bob", () => bobRoom.getMember(alice.getUserId()!)?.name === "Alice Liddell");
  await alice.setRoomName(roomId, "Book club (2)");
  await alice.setRoomTopic(roomId, "Chapter 2");
  await waitFor("the new room name", () => bobRoom.name === "Book club (2)");
  await waitFor("the new topic", () => bobRoom.currentState.getStateEvents("m.room.topic", "")?.getContent().topic === "Chapter 2");
});
