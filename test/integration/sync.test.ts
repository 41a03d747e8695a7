/**
 * /sync over HTTP: initial and incremental syncs, long-poll wake-ups, invites, knocks, leaves, typing,
 * receipts, account data, limited timelines joining up with /messages, and filters — every response checked
 * against the OpenAPI definition.
 */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { useTestHomeserver } from "../support/homeserver";
import { V3, roomPath, type User } from "../support/rooms";

const { api, rooms } = useTestHomeserver();

interface SyncEvent {
  type: string;
  event_id?: string;
  sender?: string;
  state_key?: string;
  content: Record<string, unknown>;
}
interface JoinedRoom {
  timeline?: { events: SyncEvent[]; limited: boolean; prev_batch?: string };
  state?: { events: SyncEvent[] };
  ephemeral?: { events: SyncEvent[] };
  account_data?: { events: SyncEvent[] };
  summary?: Record<string, unknown>;
  unread_notifications?: { notification_count: number; highlight_count: number };
}
interface SyncResponse {
  next_batch: string;
  rooms?: {
    join?: Record<string, JoinedRoom>;
    invite?: Record<string, { invite_state: { events: SyncEvent[] } }>;
    leave?: Record<string, JoinedRoom>;
    knock?: Record<string, { knock_state: { events: SyncEvent[] } }>;
  };
  account_data?: { events: SyncEvent[] };
}

async function sync(who: User, params: Record<string, string> = {}): Promise<SyncResponse> {
  const query = new URLSearchParams(params).toString();
  const response = await api.get<SyncResponse>(`${V3}/sync${query ? `?${query}` : ""}`, { token: who.token });
  assert.equal(response.status, 200, JSON.stringify(response.body));
  return response.body;
}

/** Sends a text message. */
const send = (who: User, roomId: string, body: string): Promise<string> => rooms.send(who, roomId, { msgtype: "m.text", body });

const bodies = (events: SyncEvent[] = []) => events.filter((e) => e.type === "m.room.message").map((e) => e.content.body);

describe("sync", () => {
  test("initial sync shows joined rooms with timeline and state; incremental sync only what is new", async () => {
    const alice = await rooms.user("alice");
    const roomId = await rooms.createRoom(alice, { name: "Garden", topic: "Plants" });
    await send(alice, roomId, "one");
    await send(alice, roomId, "two");

    const initial = await sync(alice);
    const joined = initial.rooms?.join?.[roomId];
    assert.ok(joined, "the room is in rooms.join");
    assert.deepEqual(bodies(joined.timeline?.events), ["one", "two"]);
    const everything = [...(joined.state?.events ?? []), ...(joined.timeline?.events ?? [])];
    assert.ok(everything.some((e) => e.type === "m.room.name" && e.content.name === "Garden"));
    assert.ok(everything.some((e) => e.type === "m.room.create"));

    const nothing = await sync(alice, { since: initial.next_batch });
    assert.deepEqual(nothing.rooms?.join ?? {}, {});
    assert.equal(nothing.next_batch, initial.next_batch);

    await send(alice, roomId, "three");
    const next = await sync(alice, { since: initial.next_batch });
    assert.deepEqual(bodies(next.rooms?.join?.[roomId]?.timeline?.events), ["three"]);
    assert.equal(next.rooms?.join?.[roomId]?.timeline?.limited, false);
    const again = await sync(alice, { since: next.next_batch });
    assert.deepEqual(again.rooms?.join ?? {}, {}, "nothing is delivered twice");
  });

  test("a long-poll returns as soon as another member sends", async () => {
    const alice = await rooms.user("alice");
    const bob = await rooms.user("bob");
    const roomId = await rooms.createRoom(alice, { preset: "public_chat" });
    await rooms.join(bob, roomId);
    const { next_batch: since } = await sync(bob);

    const started = Date.now();
    const waiting = sync(bob, { since, timeout: "20000" });
    await new Promise((resolve) => setTimeout(resolve, 200));
    await send(alice, roomId, "wake up");
    const woken = await waiting;
    const elapsed = Date.now() - started;
    assert.deepEqual(bodies(woken.rooms?.join?.[roomId]?.timeline?.events), ["wake up"]);
    assert.ok(elapsed < 5000, `the long-poll took ${elapsed} ms`);

    const quiet = Date.now();
    const empty = await sync(bob, { since: woken.next_batch, timeout: "300" });
    assert.ok(Date.now() - quiet >= 250, "an idle long-poll waits for its timeout");
    assert.deepEqual(empty.rooms?.join ?? {}, {});
  });

  test("invites arrive with stripped state; joining and leaving move the room", async () => {
    const alice = await rooms.user("alice");
    const bob = await rooms.user("bob");
    const roomId = await rooms.createRoom(alice, { name: "Private", preset: "private_chat" });
    const { next_batch: since } = await sync(bob);
    assert.equal((await api.post(`${roomPath(roomId)}/invite`, { user_id: bob.userId }, { token: alice.token })).status, 200);

    const invited = await sync(bob, { since, timeout: "5000" });
    const inviteState = invited.rooms?.invite?.[roomId]?.invite_state.events ?? [];
    assert.ok(inviteState.some((e) => e.type === "m.room.name" && e.content.name === "Private"));
    assert.ok(inviteState.some((e) => e.type === "m.room.member" && e.state_key === bob.userId && e.content.membership === "invite"));

    await rooms.join(bob, roomId);
    const joined = await sync(bob, { since: invited.next_batch });
    const joinedRoom = joined.rooms?.join?.[roomId];
    assert.ok(joinedRoom, "the room moved to rooms.join");
    const stateAndTimeline = [...(joinedRoom.state?.events ?? []), ...(joinedRoom.timeline?.events ?? [])];
    assert.ok(stateAndTimeline.some((e) => e.type === "m.room.name"), "a newly joined room comes with its state");

    assert.equal((await api.post(`${roomPath(roomId)}/leave`, {}, { token: bob.token })).status, 200);
    const left = await sync(bob, { since: joined.next_batch });
    const leftRoom = left.rooms?.leave?.[roomId];
    assert.ok(leftRoom, "the room moved to rooms.leave");
    assert.ok(leftRoom.timeline?.events.some((e) => e.type === "m.room.member" && e.content.membership === "leave"));
  });

  test("typing notifications and receipts reach other members once", async () => {
    const alice = await rooms.user("alice");
    const bob = await rooms.user("bob");
    const roomId = await rooms.createRoom(alice, { preset: "public_chat" });
    await rooms.join(bob, roomId);
    const eventId = await send(alice, roomId, "read me");
    const { next_batch: since } = await sync(alice);

    const typing = await api.put(`${roomPath(roomId)}/typing/${encodeURIComponent(bob.userId)}`, { typing: true, timeout: 1000 }, { token: bob.token });
    assert.equal(typing.status, 200);
    const receipt = await api.post(`${roomPath(roomId)}/receipt/m.read/${encodeURIComponent(eventId)}`, {}, { token: bob.token });
    assert.equal(receipt.status, 200);
    const privateReceipt = await api.post(`${roomPath(roomId)}/receipt/m.read.private/${encodeURIComponent(eventId)}`, {}, { token: bob.token });
    assert.equal(privateReceipt.status, 200);

    const seen = await sync(alice, { since });
    const ephemeral = seen.rooms?.join?.[roomId]?.ephemeral?.events ?? [];
    const typingEvent = ephemeral.find((e) => e.type === "m.typing");
    assert.deepEqual(typingEvent?.content, { user_ids: [bob.userId] });
    const receipts = ephemeral.find((e) => e.type === "m.receipt")?.content as Record<string, Record<string, Record<string, unknown>>>;
    assert.ok(receipts[eventId]?.["m.read"]?.[bob.userId], "bob's public receipt");
    assert.equal(receipts[eventId]?.["m.read.private"], undefined, "bob's private receipt is his alone");

    const stopped = await sync(alice, { since: seen.next_batch, timeout: "5000" });
    const after = stopped.rooms?.join?.[roomId]?.ephemeral?.events ?? [];
    assert.deepEqual(after.find((e) => e.type === "m.typing")?.content, { user_ids: [] }, "typing expires by itself");
    assert.equal(after.find((e) => e.type === "m.receipt"), undefined, "a receipt is delivered once");

    const bobsView = await sync(bob);
    const bobReceipts = bobsView.rooms?.join?.[roomId]?.ephemeral?.events.find((e) => e.type === "m.receipt")?.content as Record<string, Record<string, unknown>>;
    assert.ok(bobReceipts[eventId]?.["m.read.private"], "bob sees his own private receipt");

    const second = await send(alice, roomId, "threaded");
    const threaded = await api.post(`${roomPath(roomId)}/receipt/m.read/${encodeURIComponent(second)}`, { thread_id: "main" }, { token: bob.token });
    assert.equal(threaded.status, 200);
    const threadView = await sync(alice, { since: stopped.next_batch });
    const threadReceipts = threadView.rooms?.join?.[roomId]?.ephemeral?.events.find((e) => e.type === "m.receipt")?.content as Record<string, Record<string, Record<string, { thread_id?: string }>>>;
    assert.equal(threadReceipts[second]?.["m.read"]?.[bob.userId]?.thread_id, "main");
    const badThread = await api.post(`${roomPath(roomId)}/receipt/m.read/${encodeURIComponent(second)}`, { thread_id: "$nonexistent" }, { token: bob.token });
    assert.equal(badThread.status, 400);

    const outsider = await rooms.user("eve");
    const refused = await api.put(`${roomPath(roomId)}/typing/${encodeURIComponent(outsider.userId)}`, { typing: true }, { token: outsider.token });
    assert.equal(refused.status, 403);
    const forged = await api.put(`${roomPath(roomId)}/typing/${encodeURIComponent(alice.userId)}`, { typing: true }, { token: bob.token });
    assert.equal(forged.status, 403);
    const badReceipt = await api.post(`${roomPath(roomId)}/receipt/m.bogus/${encodeURIComponent(eventId)}`, {}, { token: bob.token });
    assert.equal(badReceipt.status, 400);
    const unknownEvent = await api.post(`${roomPath(roomId)}/receipt/m.read/${encodeURIComponent("$nope")}`, {}, { token: bob.token });
    assert.equal(unknownEvent.status, 404);
  });

  test("account data, tags and read markers arrive through sync", async () => {
    const alice = await rooms.user("alice");
    const roomId = await rooms.createRoom(alice);
    const eventId = await send(alice, roomId, "marker");
    const { next_batch: since } = await sync(alice);
    const me = encodeURIComponent(alice.userId);
    await api.put(`${V3}/user/${me}/account_data/org.example.theme`, { dark: true }, { token: alice.token });
    await api.put(`${V3}/user/${me}/rooms/${encodeURIComponent(roomId)}/tags/m.favourite`, { order: 0.5 }, { token: alice.token });
    assert.equal((await api.post(`${roomPath(roomId)}/read_markers`, { "m.fully_read": eventId, "m.read": eventId }, { token: alice.token })).status, 200);

    const changes = await sync(alice, { since });
    assert.deepEqual(changes.account_data?.events, [{ type: "org.example.theme", content: { dark: true } }]);
    const roomData = changes.rooms?.join?.[roomId]?.account_data?.events ?? [];
    assert.deepEqual(roomData.find((e) => e.type === "m.tag")?.content, { tags: { "m.favourite": { order: 0.5 } } });
    assert.deepEqual(roomData.find((e) => e.type === "m.fully_read")?.content, { event_id: eventId });

    const initial = await sync(alice);
    assert.ok(initial.account_data?.events.some((e) => e.type === "org.example.theme"));
    assert.ok(initial.rooms?.join?.[roomId]?.account_data?.events.some((e) => e.type === "m.tag"));

    // Account data of a room the user left belongs with the left rooms, never under rooms.join.
    const leftRoom = await rooms.createRoom(alice);
    assert.equal((await api.post(`${roomPath(leftRoom)}/leave`, {}, { token: alice.token })).status, 200);
    const afterLeave = (await sync(alice, { since: initial.next_batch })).next_batch;
    await api.put(`${V3}/user/${me}/rooms/${encodeURIComponent(leftRoom)}/account_data/org.example.note`, { n: 1 }, { token: alice.token });
    const withoutLeft = await sync(alice, { since: afterLeave });
    assert.equal(withoutLeft.rooms?.join?.[leftRoom], undefined);
    assert.equal(withoutLeft.rooms?.leave?.[leftRoom], undefined, "left rooms need include_leave");
    const withLeft = await sync(alice, { since: afterLeave, filter: JSON.stringify({ room: { include_leave: true } }) });
    assert.equal(withLeft.rooms?.join?.[leftRoom], undefined);
    assert.deepEqual(withLeft.rooms?.leave?.[leftRoom]?.account_data?.events, [{ type: "org.example.note", content: { n: 1 } }]);
  });

  test("a limited timeline's prev_batch joins up with /messages without gaps", async () => {
    const alice = await rooms.user("alice");
    const roomId = await rooms.createRoom(alice);
    const { next_batch: since } = await sync(alice);
    const sent: string[] = [];
    for (let index = 0; index < 12; index++) sent.push(await send(alice, roomId, `m${index}`));

    const filter = JSON.stringify({ room: { timeline: { limit: 5 } } });
    const limited = await sync(alice, { since, filter });
    const timeline = limited.rooms?.join?.[roomId]?.timeline;
    assert.equal(timeline?.limited, true);
    assert.deepEqual(bodies(timeline?.events), ["m7", "m8", "m9", "m10", "m11"]);

    const older = await api.get<{ chunk: SyncEvent[] }>(
      `${roomPath(roomId)}/messages?dir=b&limit=7&from=${encodeURIComponent(timeline!.prev_batch!)}`,
      { token: alice.token },
    );
    assert.deepEqual(bodies(older.body.chunk).reverse(), ["m0", "m1", "m2", "m3", "m4", "m5", "m6"]);
  });

  test("notification counts follow the default push rules and reset with a receipt", async () => {
    const alice = await rooms.user("alice");
    const bob = await rooms.user("bob");
    const roomId = await rooms.createRoom(alice, { preset: "public_chat" });
    await rooms.join(bob, roomId);
    await send(alice, roomId, "hello");
    const last = await send(alice, roomId, `hey ${bob.userId.slice(1, bob.userId.indexOf(":"))}, look`);
    const counts = (await sync(bob)).rooms?.join?.[roomId]?.unread_notifications;
    assert.deepEqual(counts, { notification_count: 2, highlight_count: 1 });
    await api.post(`${roomPath(roomId)}/receipt/m.read/${encodeURIComponent(last)}`, {}, { token: bob.token });
    assert.deepEqual((await sync(bob)).rooms?.join?.[roomId]?.unread_notifications, { notification_count: 0, highlight_count: 0 });
  });

  test("lazy-loaded members: only the senders of the timeline and the user", async () => {
    const alice = await rooms.user("alice");
    const bob = await rooms.user("bob");
    const carol = await rooms.user("carol");
    const roomId = await rooms.createRoom(alice, { preset: "public_chat" });
    await rooms.join(bob, roomId);
    await rooms.join(carol, roomId);
    await send(bob, roomId, "from bob");
    await send(carol, roomId, "from carol");

    const filter = JSON.stringify({ room: { state: { lazy_load_members: true }, timeline: { limit: 1 } } });
    const lazy = await sync(alice, { filter });
    const joinedRoom = lazy.rooms?.join?.[roomId];
    const members = (joinedRoom?.state?.events ?? []).filter((e) => e.type === "m.room.member").map((e) => e.state_key).sort();
    assert.deepEqual(members, [alice.userId, carol.userId].sort());
    assert.deepEqual(bodies(joinedRoom?.timeline?.events), ["from carol"]);
    assert.equal(joinedRoom?.summary?.["m.joined_member_count"], 3, "the summary still counts everyone");

    const full = await sync(alice, { filter: JSON.stringify({ room: { timeline: { limit: 1 } } }) });
    const allMembers = (full.rooms?.join?.[roomId]?.state?.events ?? []).filter((e) => e.type === "m.room.member");
    assert.equal(allMembers.length, 3);
  });

  test("presence is shared with users who share a room, through sync and GET", async () => {
    const alice = await rooms.user("alice");
    const bob = await rooms.user("bob");
    const stranger = await rooms.user("eve");
    const roomId = await rooms.createRoom(alice, { preset: "public_chat" });
    await rooms.join(bob, roomId);
    const { next_batch: since } = await sync(alice);

    const status = `${V3}/presence/${encodeURIComponent(bob.userId)}/status`;
    assert.equal((await api.put(status, { presence: "unavailable", status_msg: "lunch" }, { token: bob.token })).status, 200);
    const seen = await sync(alice, { since, timeout: "5000" });
    const presence = (seen as { presence?: { events: SyncEvent[] } }).presence?.events.find((e) => e.sender === bob.userId);
    assert.equal(presence?.content.presence, "unavailable");
    assert.equal(presence?.content.status_msg, "lunch");

    const viaGet = await api.get<{ presence: string; status_msg?: string }>(status, { token: alice.token });
    assert.equal(viaGet.body.presence, "unavailable");
    assert.equal(viaGet.body.status_msg, "lunch");
    assert.equal((await api.get(status, { token: stranger.token })).status, 403, "no shared room, no presence");
    assert.equal((await api.put(status, { presence: "online" }, { token: alice.token })).status, 403);
    assert.equal((await api.put(status, { presence: "asleep" }, { token: bob.token })).status, 400);
    assert.equal((await api.get(`${V3}/presence/${encodeURIComponent("@nobody:localhost")}/status`, { token: alice.token })).status, 404);

    const initial = await sync(alice);
    const known = (initial as { presence?: { events: SyncEvent[] } }).presence?.events.find((e) => e.sender === bob.userId);
    assert.equal(known?.content.presence, "unavailable", "an initial sync shows the last known presence");
  });

  test("a sync made after another member's send returned includes the event", async () => {
    const alice = await rooms.user("alice");
    const bob = await rooms.user("bob");
    const roomId = await rooms.createRoom(alice, { preset: "public_chat" });
    await rooms.join(bob, roomId);
    let since = (await sync(bob)).next_batch;
    for (let i = 0; i < 10; i += 1) {
      await send(alice, roomId, `message ${i}`);
      const next = await sync(bob, { since });
      assert.deepEqual(bodies(next.rooms?.join?.[roomId]?.timeline?.events), [`message ${i}`]);
      since = next.next_batch;
    }
  });

  test("knocking: the room shows under rooms.knock, then moves with an invite or a denial", async () => {
    const alice = await rooms.user("alice");
    const bob = await rooms.user("bob");
    const carol = await rooms.user("carol");
    const roomId = await rooms.createRoom(alice, { name: "Knock knock", preset: "private_chat" });
    const joinRules = await api.put(`${roomPath(roomId)}/state/m.room.join_rules/`, { join_rule: "knock" }, { token: alice.token });
    assert.equal(joinRules.status, 200);
    const aliceSince = (await sync(alice)).next_batch;
    const bobSince = (await sync(bob)).next_batch;

    const knocked = await api.post<{ room_id: string }>(`${V3}/knock/${encodeURIComponent(roomId)}`, { reason: "let me in" }, { token: bob.token });
    assert.equal(knocked.status, 200, JSON.stringify(knocked.body));
    assert.equal(knocked.body.room_id, roomId);

    const bobKnocked = await sync(bob, { since: bobSince });
    const knockState = bobKnocked.rooms?.knock?.[roomId]?.knock_state.events ?? [];
    assert.ok(knockState.some((e) => e.type === "m.room.name" && e.content.name === "Knock knock"));
    assert.ok(knockState.some((e) => e.type === "m.room.join_rules" && e.content.join_rule === "knock"));
    assert.ok(knockState.some((e) => e.type === "m.room.member" && e.state_key === bob.userId && e.content.membership === "knock"));
    assert.equal(bobKnocked.rooms?.join?.[roomId], undefined);
    const initial = await sync(bob);
    assert.ok(initial.rooms?.knock?.[roomId], "an initial sync shows the knock too");

    const aliceSees = await sync(alice, { since: aliceSince });
    const knockEvent = aliceSees.rooms?.join?.[roomId]?.timeline?.events.find((e) => e.type === "m.room.member" && e.state_key === bob.userId);
    assert.equal(knockEvent?.content.membership, "knock");
    assert.equal(knockEvent?.content.reason, "let me in");

    // Knocking again, or on a room that does not allow it, is refused.
    const twice = await api.post(`${V3}/knock/${encodeURIComponent(roomId)}`, {}, { token: alice.token });
    assert.equal(twice.status, 403);
    assert.equal(twice.body.errcode, "M_FORBIDDEN");
    const publicRoom = await rooms.createRoom(alice, { preset: "public_chat" });
    const notKnockable = await api.post(`${V3}/knock/${encodeURIComponent(publicRoom)}`, {}, { token: bob.token });
    assert.equal(notKnockable.status, 403);
    assert.equal(notKnockable.body.errcode, "M_FORBIDDEN");
    const unknown = await api.post(`${V3}/knock/${encodeURIComponent("!nowhere:localhost")}`, {}, { token: bob.token });
    assert.equal(unknown.status, 404);

    // Accepted: an invite, then a join.
    assert.equal((await api.post(`${roomPath(roomId)}/invite`, { user_id: bob.userId }, { token: alice.token })).status, 200);
    const invited = await sync(bob, { since: bobKnocked.next_batch });
    assert.ok(invited.rooms?.invite?.[roomId], "the knock became an invite");
    assert.equal(invited.rooms?.knock?.[roomId], undefined);
    await rooms.join(bob, roomId);
    const joined = await sync(bob, { since: invited.next_batch });
    assert.ok(joined.rooms?.join?.[roomId]);

    // Denied: a kick of the knocking user; and a knock can be withdrawn by leaving.
    const carolSince = (await sync(carol)).next_batch;
    assert.equal((await api.post(`${V3}/knock/${encodeURIComponent(roomId)}`, {}, { token: carol.token })).status, 200);
    assert.equal((await api.post(`${roomPath(roomId)}/kick`, { user_id: carol.userId, reason: "no" }, { token: alice.token })).status, 200);
    const denied = await sync(carol, { since: carolSince });
    assert.equal(denied.rooms?.knock?.[roomId], undefined);
    assert.ok(
      denied.rooms?.leave?.[roomId]?.timeline?.events.some((e) => e.type === "m.room.member" && e.content.membership === "leave"),
      "the denial shows under rooms.leave",
    );
    assert.equal((await api.post(`${V3}/knock/${encodeURIComponent(roomId)}`, {}, { token: carol.token })).status, 200);
    assert.equal((await api.post(`${roomPath(roomId)}/leave`, {}, { token: carol.token })).status, 200);
    const withdrawn = await sync(carol, { since: denied.next_batch });
    assert.ok(withdrawn.rooms?.leave?.[roomId], "a withdrawn knock shows under rooms.leave");
  });

  test("lazy-loaded members are not sent again unless include_redundant_members asks for them", async () => {
    const alice = await rooms.user("alice");
    const bob = await rooms.user("bob");
    const roomId = await rooms.createRoom(alice, { preset: "public_chat" });
    await rooms.join(bob, roomId);
    await send(bob, roomId, "first");
    const memberIds = (response: SyncResponse) =>
      (response.rooms?.join?.[roomId]?.state?.events ?? []).filter((e) => e.type === "m.room.member").map((e) => e.state_key).sort();

    // A timeline of one event, so that members come in the state section.
    const lazy = JSON.stringify({ room: { state: { lazy_load_members: true }, timeline: { limit: 1 } } });
    const initial = await sync(alice, { filter: lazy });
    assert.ok(memberIds(initial).includes(bob.userId));
    await send(bob, roomId, "second");
    const next = await sync(alice, { filter: lazy, since: initial.next_batch });
    assert.deepEqual(bodies(next.rooms?.join?.[roomId]?.timeline?.events), ["second"]);
    assert.deepEqual(memberIds(next), [], "bob's membership was sent already");
    // A member first sent in a response the client lost (it syncs from the same token again) is sent again.
    const carol = await rooms.user("carol");
    await rooms.join(carol, roomId);
    await send(carol, roomId, "from carol");
    const lost = await sync(alice, { filter: lazy, since: next.next_batch });
    assert.deepEqual(memberIds(lost), [carol.userId]);
    const retried = await sync(alice, { filter: lazy, since: next.next_batch });
    assert.deepEqual(memberIds(retried), [carol.userId]);
    await send(carol, roomId, "again from carol");
    const afterRetry = await sync(alice, { filter: lazy, since: retried.next_batch });
    assert.deepEqual(memberIds(afterRetry), []);

    // A changed member event is not redundant.
    const renamed = await api.put(`${roomPath(roomId)}/state/m.room.member/${encodeURIComponent(bob.userId)}`, { membership: "join", displayname: "Robert" }, { token: bob.token });
    assert.equal(renamed.status, 200);
    await send(bob, roomId, "third");
    const afterRename = await sync(alice, { filter: lazy, since: afterRetry.next_batch });
    const bobMember = afterRename.rooms?.join?.[roomId]?.state?.events.find((e) => e.type === "m.room.member" && e.state_key === bob.userId);
    assert.equal(bobMember?.content.displayname, "Robert");

    const redundant = JSON.stringify({ room: { state: { lazy_load_members: true, include_redundant_members: true }, timeline: { limit: 1 } } });
    await send(bob, roomId, "fourth");
    const all = await sync(alice, { filter: redundant, since: afterRename.next_batch });
    assert.ok(memberIds(all).includes(bob.userId), "include_redundant_members sends it every time");
  });

  test("bad sync parameters get the spec's errors", async () => {
    const alice = await rooms.user("alice");
    const badToken = await api.get(`${V3}/sync?since=garbage`, { token: alice.token });
    assert.equal(badToken.status, 400);
    const badFilter = await api.get(`${V3}/sync?filter=${encodeURIComponent("{nope")}`, { token: alice.token });
    assert.equal(badFilter.body.errcode, "M_NOT_JSON");
    const unknownFilter = await api.get(`${V3}/sync?filter=12345`, { token: alice.token });
    assert.equal(unknownFilter.status, 404);
    const badTimeout = await api.get(`${V3}/sync?timeout=-5`, { token: alice.token });
    assert.equal(badTimeout.status, 400);
  });
});
