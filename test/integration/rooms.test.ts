/**
 * Rooms over HTTP as clients see them: creation with presets and every room version, membership,
 * sending, state, redaction, history (messages, context, event) with history visibility, members,
 * aliases, concurrent senders, and every bad input answered with the spec's error (never a 5xx).
 * Successful responses are checked against the OpenAPI definitions.
 */
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join as joinPath } from "node:path";
import { describe, test } from "node:test";
import { startHomeserver } from "../../scripts/lib/homeserver";
import { freePort } from "../../scripts/lib/postgres";
import { TEST_VARS, useTestHomeserver } from "../support/homeserver";
import { TestClient, uniqueName, type ApiResponse } from "../support/http";
import { V3, assertError, roomPath, txn, type ClientEvent, type MessagesBody } from "../support/rooms";

const { api, rooms } = useTestHomeserver();

describe("room creation", () => {
  test("the default private_chat room: initial events in the spec's order, creator joined", async () => {
    const alice = await rooms.user("alice");
    const roomId = await rooms.createRoom(alice, { name: "Tea", topic: "Brewing", room_alias_name: uniqueName("tea") });
    assert.match(roomId, /^![A-Za-z0-9]{18}:localhost$/);
    const history = await rooms.fullHistory(alice, roomId);
    assert.deepEqual(
      history.map((event) => event.type),
      [
        "m.room.create",
        "m.room.member",
        "m.room.power_levels",
        "m.room.canonical_alias",
        "m.room.join_rules",
        "m.room.history_visibility",
        "m.room.guest_access",
        "m.room.name",
        "m.room.topic",
      ],
    );
    assert.ok(history.every((event) => event.room_id === roomId && event.sender === alice.userId));
    assert.deepEqual(history[0]!.content, { room_version: "11" });

    const joinRules = await api.get(`${roomPath(roomId)}/state/m.room.join_rules`, { token: alice.token });
    assert.deepEqual(joinRules.body, { join_rule: "invite" });
    const trailingSlash = await api.get(`${roomPath(roomId)}/state/m.room.name/`, { token: alice.token });
    assert.deepEqual(trailingSlash.body, { name: "Tea" });
    const asEvent = await api.get<ClientEvent>(`${roomPath(roomId)}/state/m.room.create/?format=event`, { token: alice.token, checkSpec: false });
    assert.equal(asEvent.body.type, "m.room.create");
    assert.equal(asEvent.body.event_id, history[0]!.event_id);
    const missing = await api.get(`${roomPath(roomId)}/state/m.room.avatar`, { token: alice.token });
    assertError(missing, 404, "M_NOT_FOUND");

    const state = await api.get<ClientEvent[]>(`${roomPath(roomId)}/state`, { token: alice.token });
    assert.equal(state.body.length, 9);
    const joinedRooms = await api.get<{ joined_rooms: string[] }>(`${V3}/joined_rooms`, { token: alice.token });
    assert.deepEqual(joinedRooms.body.joined_rooms, [roomId]);
    const joinedMembers = await api.get<{ joined: Record<string, object> }>(`${roomPath(roomId)}/joined_members`, { token: alice.token });
    assert.deepEqual(Object.keys(joinedMembers.body.joined), [alice.userId]);
  });

  test("presets: public_chat and trusted_private_chat", async () => {
    const alice = await rooms.user("alice");
    const bob = await rooms.user("bob");
    const publicRoom = await rooms.createRoom(alice, { preset: "public_chat" });
    const publicRules = await api.get(`${roomPath(publicRoom)}/state/m.room.join_rules`, { token: alice.token });
    assert.deepEqual(publicRules.body, { join_rule: "public" });
    assertError(await api.get(`${roomPath(publicRoom)}/state/m.room.guest_access`, { token: alice.token }), 404, "M_NOT_FOUND");
    await rooms.join(bob, publicRoom);

    const trusted = await rooms.createRoom(alice, { preset: "trusted_private_chat", invite: [bob.userId], is_direct: true });
    const levels = await api.get<{ users: Record<string, number> }>(`${roomPath(trusted)}/state/m.room.power_levels`, { token: alice.token });
    assert.deepEqual(levels.body.users, { [alice.userId]: 100, [bob.userId]: 100 });
    const invite = await api.get<ClientEvent>(`${roomPath(trusted)}/state/m.room.member/${encodeURIComponent(bob.userId)}?format=event`, {
      token: alice.token,
      checkSpec: false,
    });
    assert.deepEqual(invite.body.content, { membership: "invite", is_direct: true });

    const v12 = await rooms.createRoom(alice, { preset: "trusted_private_chat", invite: [bob.userId], room_version: "12" });
    const create = await api.get(`${roomPath(v12)}/state/m.room.create`, { token: alice.token });
    assert.deepEqual(create.body, { room_version: "12", additional_creators: [bob.userId] });
  });

  test("every room version from 1 to 12 works; unknown versions are M_UNSUPPORTED_ROOM_VERSION", async () => {
    const alice = await rooms.user("alice");
    for (let version = 1; version <= 12; version++) {
      const roomId = await rooms.createRoom(alice, { room_version: String(version), name: `v${version}` });
      if (version === 12) assert.match(roomId, /^![A-Za-z0-9_-]{43}$/);
      else assert.match(roomId, /^![A-Za-z0-9]{18}:localhost$/);
      const eventId = await rooms.send(alice, roomId, { msgtype: "m.text", body: `hello v${version}` });
      if (version <= 2) assert.match(eventId, /^\$[A-Za-z0-9]{18}:localhost$/);
      else if (version === 3) assert.match(eventId, /^\$[A-Za-z0-9+/]{43}$/);
      else assert.match(eventId, /^\$[A-Za-z0-9_-]{43}$/);
      const latest = await rooms.messages(alice, roomId, "dir=b&limit=1");
      assert.equal(latest.body.chunk[0]?.event_id, eventId);
      assert.equal(latest.body.chunk[0]?.room_id, roomId);
      const create = await api.get<Record<string, unknown>>(`${roomPath(roomId)}/state/m.room.create`, { token: alice.token });
      assert.equal(create.body.room_version, String(version));
      assert.equal("creator" in create.body, version < 11, "v11 drops content.creator");
    }
    const unsupported = await api.post(`${V3}/createRoom`, { room_version: "99" }, { token: alice.token });
    assertError(unsupported, 400, "M_UNSUPPORTED_ROOM_VERSION");
    const notString = await api.post(`${V3}/createRoom`, { room_version: 5 }, { token: alice.token });
    assertError(notString, 400, "M_BAD_JSON");
    const badPreset = await api.post(`${V3}/createRoom`, { preset: "party" }, { token: alice.token });
    assertError(badPreset, 400, "M_BAD_JSON");
  });

  test("initial state the auth rules reject is M_INVALID_ROOM_STATE and creates nothing", async () => {
    const alice = await rooms.user("alice");
    const alias = uniqueName("broken");
    const rejected = await api.post(
      `${V3}/createRoom`,
      { room_alias_name: alias, initial_state: [{ type: "m.room.create", content: {} }] },
      { token: alice.token },
    );
    assertError(rejected, 400, "M_INVALID_ROOM_STATE");
    const lookup = await api.get(`${V3}/directory/room/${encodeURIComponent(`#${alias}:localhost`)}`);
    assertError(lookup, 404, "M_NOT_FOUND");
    const joinedRooms = await api.get<{ joined_rooms: string[] }>(`${V3}/joined_rooms`, { token: alice.token });
    assert.deepEqual(joinedRooms.body.joined_rooms, []);
  });
});

describe("membership, messages and power", () => {
  test("invite, join, 20 messages in send order, idempotent transaction IDs", async () => {
    const alice = await rooms.user("alice");
    const bob = await rooms.user("bob");
    const roomId = await rooms.createRoom(alice);
    const notInvited = await rooms.membership(bob, roomId, "join");
    assertError(notInvited, 403, "M_FORBIDDEN");
    assert.equal((await rooms.membership(alice, roomId, "invite", { user_id: bob.userId })).status, 200);
    const joined = await api.post<{ room_id: string }>(`${V3}/join/${encodeURIComponent(roomId)}`, {}, { token: bob.token });
    assert.deepEqual(joined.body, { room_id: roomId });

    const sent: string[] = [];
    for (let index = 0; index < 20; index++) {
      sent.push(await rooms.send(index % 2 === 0 ? alice : bob, roomId, { msgtype: "m.text", body: `message ${index}` }, `order-${index}`));
    }
    assert.equal(new Set(sent).size, 20);
    const repeated = await rooms.send(alice, roomId, { msgtype: "m.text", body: "different body" }, "order-0");
    assert.equal(repeated, sent[0], "the same txnId returns the same event");
    const bobsTxn = await rooms.send(bob, roomId, { msgtype: "m.text", body: "bob's own" }, "order-0");
    assert.notEqual(bobsTxn, sent[0], "transaction IDs are scoped to the device");

    // Backwards in pages of 7 until the start of the room, then compare with forwards.
    const backwards = await rooms.fullHistoryBackwards(bob, roomId, 7);
    const forwards = await rooms.fullHistory(bob, roomId, 6);
    assert.deepEqual(backwards.map((event) => event.event_id).reverse(), forwards.map((event) => event.event_id));
    const messageIds = forwards.filter((event) => event.type === "m.room.message").map((event) => event.event_id);
    assert.deepEqual(messageIds, [...sent, bobsTxn]);
    const bodies = forwards.filter((event) => event.type === "m.room.message").map((event) => event.content.body);
    assert.deepEqual(bodies.slice(0, 20), sent.map((_, index) => `message ${index}`));
    const timestamps = forwards.map((event) => event.origin_server_ts);
    assert.deepEqual(timestamps, [...timestamps].sort((a, b) => a - b));

    // transaction_id only for the device that sent the event.
    const aliceView = await rooms.messages(alice, roomId, "dir=b&limit=3");
    const bobView = await rooms.messages(bob, roomId, "dir=b&limit=3");
    assert.equal(aliceView.body.chunk[0]?.unsigned?.transaction_id, undefined, "bob's message, seen by alice");
    assert.equal(aliceView.body.chunk[2]?.unsigned?.transaction_id, "order-18");
    assert.equal(bobView.body.chunk[0]?.unsigned?.transaction_id, "order-0");
    assert.equal(bobView.body.chunk[2]?.unsigned?.transaction_id, undefined, "alice's message, seen by bob");
    const aliceEvent = await api.get<ClientEvent>(`${roomPath(roomId)}/event/${encodeURIComponent(sent[18]!)}`, { token: alice.token });
    assert.equal(aliceEvent.body.unsigned?.transaction_id, "order-18");
    assert.equal(typeof aliceEvent.body.unsigned?.age, "number");

    const context = await api.get<{ event: ClientEvent; events_before: ClientEvent[]; events_after: ClientEvent[]; start: string; end: string; state: ClientEvent[] }>(
      `${roomPath(roomId)}/context/${encodeURIComponent(sent[10]!)}?limit=4`,
      { token: bob.token },
    );
    assert.equal(context.status, 200);
    assert.equal(context.body.event.event_id, sent[10]);
    assert.deepEqual(context.body.events_before.map((event) => event.event_id), [sent[9], sent[8]]);
    assert.deepEqual(context.body.events_after.map((event) => event.event_id), [sent[11], sent[12]]);
    assert.ok(context.body.state.some((event) => event.type === "m.room.create"));
    const beforeContext = await rooms.messages(bob, roomId, `dir=b&limit=2&from=${context.body.start}`);
    assert.deepEqual(beforeContext.body.chunk.map((event) => event.event_id), [sent[7], sent[6]]);
    const afterContext = await rooms.messages(bob, roomId, `dir=f&limit=1&from=${context.body.end}`);
    assert.deepEqual(afterContext.body.chunk.map((event) => event.event_id), [sent[13]]);

    const filtered = await rooms.messages(bob, roomId, `dir=b&limit=50&filter=${encodeURIComponent(JSON.stringify({ types: ["m.room.member"], lazy_load_members: true }))}`);
    assert.deepEqual(filtered.body.chunk.map((event) => event.state_key), [bob.userId, bob.userId, alice.userId]);
    assert.deepEqual(new Set(filtered.body.state?.map((event) => event.state_key)), new Set([alice.userId, bob.userId]));
    const bySender = await rooms.messages(bob, roomId, `dir=f&limit=50&filter=${encodeURIComponent(JSON.stringify({ senders: [bob.userId], types: ["m.room.message"] }))}`);
    assert.equal(bySender.body.chunk.length, 11);
    const bounded = await rooms.messages(bob, roomId, `dir=b&limit=50&to=${context.body.start}`);
    assert.equal(bounded.body.chunk.at(-1)?.event_id, sent[8], "`to` stops the pagination");
  });

  test("power level 0 cannot change power levels or kick; bans keep users out", async () => {
    const alice = await rooms.user("alice");
    const bob = await rooms.user("bob");
    const carol = await rooms.user("carol");
    const roomId = await rooms.createRoom(alice, { preset: "public_chat" });
    await rooms.join(bob, roomId);
    await rooms.join(carol, roomId);

    const takeover = await rooms.setState(bob, roomId, "m.room.power_levels", "", { users: { [bob.userId]: 100 } });
    assertError(takeover, 403, "M_FORBIDDEN");
    assertError(await rooms.membership(bob, roomId, "kick", { user_id: carol.userId }), 403, "M_FORBIDDEN");
    assertError(await rooms.membership(bob, roomId, "ban", { user_id: carol.userId }), 403, "M_FORBIDDEN");
    assertError(await rooms.setState(bob, roomId, "m.room.name", "", { name: "mine" }), 403, "M_FORBIDDEN");

    assert.equal((await rooms.membership(alice, roomId, "kick", { user_id: carol.userId, reason: "out" })).status, 200);
    const kicked = await api.get<ClientEvent>(`${roomPath(roomId)}/state/m.room.member/${encodeURIComponent(carol.userId)}?format=event`, {
      token: alice.token,
      checkSpec: false,
    });
    assert.deepEqual(kicked.body.content, { membership: "leave", reason: "out" });
    // Join events carry the member's profile: a new user's display name is their localpart.
    const carolLocalpart = carol.userId.slice(1, carol.userId.indexOf(":"));
    assert.deepEqual(kicked.body.unsigned?.prev_content, { membership: "join", displayname: carolLocalpart });
    assertError(await rooms.membership(alice, roomId, "kick", { user_id: carol.userId }), 403, "M_FORBIDDEN");

    assert.equal((await rooms.membership(alice, roomId, "ban", { user_id: bob.userId })).status, 200);
    assertError(await rooms.membership(bob, roomId, "join"), 403, "M_FORBIDDEN");
    assertError(await rooms.membership(alice, roomId, "invite", { user_id: bob.userId }), 403, "M_FORBIDDEN");
    assertError(await rooms.membership(alice, roomId, "unban", { user_id: carol.userId }), 403, "M_BAD_STATE");
    assert.equal((await rooms.membership(alice, roomId, "unban", { user_id: bob.userId })).status, 200);
    await rooms.join(bob, roomId);

    const joinedRooms = await api.get<{ joined_rooms: string[] }>(`${V3}/joined_rooms`, { token: carol.token });
    assert.deepEqual(joinedRooms.body.joined_rooms, []);
    const members = await api.get<{ chunk: ClientEvent[] }>(`${roomPath(roomId)}/members?membership=join`, { token: alice.token });
    assert.deepEqual(new Set(members.body.chunk.map((event) => event.state_key)), new Set([alice.userId, bob.userId]));
    const notLeft = await api.get<{ chunk: ClientEvent[] }>(`${roomPath(roomId)}/members?not_membership=leave`, { token: alice.token });
    assert.equal(notLeft.body.chunk.length, 2);
    const all = await api.get<{ chunk: ClientEvent[] }>(`${roomPath(roomId)}/members`, { token: alice.token });
    assert.equal(all.body.chunk.length, 3);
  });

  test("leaving, forgetting and /members at a token", async () => {
    const alice = await rooms.user("alice");
    const bob = await rooms.user("bob");
    const roomId = await rooms.createRoom(alice, { preset: "public_chat" });
    await rooms.join(bob, roomId);
    const beforeLeave = await rooms.send(alice, roomId, { msgtype: "m.text", body: "before" });
    const token = (await rooms.messages(alice, roomId, "dir=b&limit=1")).body.start;
    assertError(await rooms.membership(bob, roomId, "forget"), 400, "M_UNKNOWN");
    assert.equal((await rooms.membership(bob, roomId, "leave")).status, 200);
    await rooms.send(alice, roomId, { msgtype: "m.text", body: "after" });

    const bobsView = await rooms.messages(bob, roomId, "dir=b&limit=10");
    assert.equal(bobsView.status, 200);
    assert.equal(bobsView.body.chunk[0]?.type, "m.room.member", "the leave is the last thing bob sees");
    assert.ok(bobsView.body.chunk.some((event) => event.event_id === beforeLeave));
    assert.ok(!bobsView.body.chunk.some((event) => event.content.body === "after"));
    assertError(await api.get(`${roomPath(roomId)}/joined_members`, { token: bob.token }), 403, "M_FORBIDDEN");

    const atToken = await api.get<{ chunk: ClientEvent[] }>(`${roomPath(roomId)}/members?at=${token}&membership=join`, { token: alice.token });
    assert.equal(atToken.body.chunk.length, 2, "bob was joined at that point");
    const now = await api.get<{ chunk: ClientEvent[] }>(`${roomPath(roomId)}/members?membership=join`, { token: alice.token });
    assert.equal(now.body.chunk.length, 1);

    assert.equal((await rooms.membership(bob, roomId, "forget")).status, 200);
    assertError(await rooms.messages(bob, roomId, "dir=b", false), 403, "M_FORBIDDEN");
  });

  test("redaction empties the content; only the sender or a moderator may redact", async () => {
    const alice = await rooms.user("alice");
    const bob = await rooms.user("bob");
    const roomId = await rooms.createRoom(alice, { preset: "public_chat" });
    await rooms.join(bob, roomId);
    const aliceMessage = await rooms.send(alice, roomId, { msgtype: "m.text", body: "secret" });
    const bobMessage = await rooms.send(bob, roomId, { msgtype: "m.text", body: "oops" });

    const denied = await api.put(`${roomPath(roomId)}/redact/${encodeURIComponent(aliceMessage)}/r1`, {}, { token: bob.token, checkSpec: false });
    assertError(denied, 403, "M_FORBIDDEN");
    const own = await api.put<{ event_id: string }>(`${roomPath(roomId)}/redact/${encodeURIComponent(bobMessage)}/r2`, { reason: "typo" }, { token: bob.token });
    assert.equal(own.status, 200);
    const again = await api.put<{ event_id: string }>(`${roomPath(roomId)}/redact/${encodeURIComponent(bobMessage)}/r2`, { reason: "typo" }, { token: bob.token });
    assert.equal(again.body.event_id, own.body.event_id);
    const moderated = await api.put(`${roomPath(roomId)}/redact/${encodeURIComponent(aliceMessage)}/r3`, {}, { token: alice.token });
    assert.equal(moderated.status, 200);

    const redacted = await api.get<ClientEvent>(`${roomPath(roomId)}/event/${encodeURIComponent(bobMessage)}`, { token: alice.token });
    assert.deepEqual(redacted.body.content, {});
    assert.equal(redacted.body.unsigned?.redacted_because?.event_id, own.body.event_id);
    assert.deepEqual(redacted.body.unsigned?.redacted_because?.content, { reason: "typo", redacts: bobMessage });
    const redaction = await api.get<ClientEvent>(`${roomPath(roomId)}/event/${encodeURIComponent(own.body.event_id)}`, { token: alice.token });
    assert.equal(redaction.body.redacts, bobMessage);
    const inHistory = await rooms.messages(alice, roomId, "dir=b&limit=10");
    assert.deepEqual(inHistory.body.chunk.find((event) => event.event_id === aliceMessage)?.content, {});

    const create = (await rooms.fullHistory(alice, roomId))[0]!;
    const createRedaction = await api.put(`${roomPath(roomId)}/redact/${encodeURIComponent(create.event_id)}/r4`, {}, { token: alice.token, checkSpec: false });
    assertError(createRedaction, 403, "M_FORBIDDEN");
    const viaSend = await api.put<{ event_id: string }>(`${roomPath(roomId)}/send/m.room.redaction/r5`, { redacts: aliceMessage }, { token: bob.token, checkSpec: false });
    assertError(viaSend, 403, "M_FORBIDDEN");
  });

  test("state: prev_content, unchanged state is not re-sent, state keys with slashes and at-signs", async () => {
    const alice = await rooms.user("alice");
    const roomId = await rooms.createRoom(alice, { name: "One" });
    const first = await rooms.setState(alice, roomId, "m.room.name", "", { name: "Two" });
    const repeat = await rooms.setState(alice, roomId, "m.room.name", "", { name: "Two" });
    assert.equal(repeat.body.event_id, first.body.event_id);
    const name = await api.get<ClientEvent>(`${roomPath(roomId)}/state/m.room.name?format=event`, { token: alice.token, checkSpec: false });
    assert.deepEqual(name.body.unsigned?.prev_content, { name: "One" });
    const custom = await rooms.setState(alice, roomId, "org.example.widget", "a/b c", { url: "https://example.org" });
    assert.equal(custom.status, 200);
    const read = await api.get(`${roomPath(roomId)}/state/org.example.widget/${encodeURIComponent("a/b c")}`, { token: alice.token });
    assert.deepEqual(read.body, { url: "https://example.org" });
    const foreignKey = await rooms.setState(alice, roomId, "org.example.profile", "@someone:localhost", { x: 1 });
    assertError(foreignKey, 403, "M_FORBIDDEN");
  });
});

describe("state history", () => {
  test("state at any point stays right across many state changes", async () => {
    const alice = await rooms.user("alice");
    const bob = await rooms.user("bob");
    const roomId = await rooms.createRoom(alice, { preset: "public_chat" });
    await rooms.join(bob, roomId);
    // Enough state events to cut the state groups' delta chains with snapshots more than once.
    for (let index = 0; index < 230; index++) {
      if (index === 150) assert.equal((await rooms.membership(bob, roomId, "leave")).status, 200);
      const set = await rooms.setState(alice, roomId, "org.example.counter", `k${index}`, { index });
      assert.equal(set.status, 200);
    }
    const keysOf = (events: ClientEvent[]) =>
      new Set(events.filter((event) => event.type === "org.example.counter").map((event) => event.state_key));
    const aliceState = await api.get<ClientEvent[]>(`${roomPath(roomId)}/state`, { token: alice.token });
    assert.equal(keysOf(aliceState.body).size, 230);
    const bobState = await api.get<ClientEvent[]>(`${roomPath(roomId)}/state`, { token: bob.token });
    assert.deepEqual(keysOf(bobState.body), new Set(Array.from({ length: 150 }, (_, index) => `k${index}`)), "state when bob left");
    const bobMember = bobState.body.find((event) => event.state_key === bob.userId);
    assert.equal(bobMember?.content.membership, "leave");
    const lastSeen = await api.get(`${roomPath(roomId)}/state/org.example.counter/k149`, { token: bob.token });
    assert.deepEqual(lastSeen.body, { index: 149 });
    assertError(await api.get(`${roomPath(roomId)}/state/org.example.counter/k150`, { token: bob.token }), 404, "M_NOT_FOUND");
    const early = await rooms.messages(alice, roomId, "dir=f&limit=1");
    const membersEarly = await api.get<{ chunk: ClientEvent[] }>(`${roomPath(roomId)}/members?at=${early.body.end}`, { token: alice.token });
    assert.deepEqual(membersEarly.body.chunk, [], "no one is a member right after the create event");
    const membersLater = await api.get<{ chunk: ClientEvent[] }>(`${roomPath(roomId)}/members?membership=join`, { token: alice.token });
    assert.deepEqual(membersLater.body.chunk.map((event) => event.state_key), [alice.userId]);
  });
});

describe("history visibility", () => {
  test("joined, shared, invited and world_readable rooms", async () => {
    const alice = await rooms.user("alice");
    const bob = await rooms.user("bob");
    const carol = await rooms.user("carol");
    const roomId = await rooms.createRoom(alice, {
      preset: "public_chat",
      initial_state: [{ type: "m.room.history_visibility", content: { history_visibility: "joined" } }],
    });
    const hidden = await rooms.send(alice, roomId, { msgtype: "m.text", body: "before bob" });
    await rooms.join(bob, roomId);
    const seen = await rooms.send(alice, roomId, { msgtype: "m.text", body: "after bob" });
    const bobHistory = await rooms.fullHistory(bob, roomId);
    assert.ok(!bobHistory.some((event) => event.event_id === hidden));
    assert.ok(bobHistory.some((event) => event.event_id === seen));
    assert.ok(bobHistory.some((event) => event.type === "m.room.member" && event.state_key === bob.userId), "own join is visible");
    assertError(await api.get(`${roomPath(roomId)}/event/${encodeURIComponent(hidden)}`, { token: bob.token }), 404, "M_NOT_FOUND");
    assertError(await api.get(`${roomPath(roomId)}/context/${encodeURIComponent(hidden)}`, { token: bob.token, checkSpec: false }), 404, "M_NOT_FOUND");

    // Switching to shared: carol, joining later, sees what was sent while it was shared.
    assert.equal((await rooms.setState(alice, roomId, "m.room.history_visibility", "", { history_visibility: "shared" })).status, 200);
    const shared = await rooms.send(alice, roomId, { msgtype: "m.text", body: "shared" });
    assertError(await rooms.messages(carol, roomId, "dir=b", false), 403, "M_FORBIDDEN");
    await rooms.join(carol, roomId);
    const carolHistory = await rooms.fullHistory(carol, roomId);
    assert.ok(carolHistory.some((event) => event.event_id === shared));
    assert.ok(!carolHistory.some((event) => event.event_id === seen), "sent while visibility was joined");
    assert.ok(carolHistory.some((event) => event.type === "m.room.history_visibility"), "visibility changes are visible");

    // world_readable: anyone may read, without joining.
    assert.equal((await rooms.setState(alice, roomId, "m.room.history_visibility", "", { history_visibility: "world_readable" })).status, 200);
    const open = await rooms.send(alice, roomId, { msgtype: "m.text", body: "open" });
    const dave = await rooms.user("dave");
    const daveView = await rooms.messages(dave, roomId, "dir=b&limit=5");
    assert.equal(daveView.status, 200);
    assert.equal(daveView.body.chunk[0]?.event_id, open);
    assert.ok(!daveView.body.chunk.some((event) => event.event_id === shared));
    assert.equal((await api.get(`${roomPath(roomId)}/event/${encodeURIComponent(open)}`, { token: dave.token })).status, 200);
    assert.equal((await api.get(`${roomPath(roomId)}/state`, { token: dave.token })).status, 200);
    assert.equal((await api.get(`${roomPath(roomId)}/aliases`, { token: dave.token })).status, 200);
  });
});

describe("aliases", () => {
  test("directory mappings, canonical alias validation, deletion rights", async () => {
    const alice = await rooms.user("alice");
    const bob = await rooms.user("bob");
    const localpart = uniqueName("lobby");
    const alias = `#${localpart}:localhost`;
    const roomId = await rooms.createRoom(alice, { preset: "public_chat", room_alias_name: localpart });
    const otherRoom = await rooms.createRoom(alice);

    const lookup = await api.get<{ room_id: string; servers: string[] }>(`${V3}/directory/room/${encodeURIComponent(alias)}`);
    assert.deepEqual(lookup.body, { room_id: roomId, servers: ["localhost"] });
    assertError(await api.post(`${V3}/createRoom`, { room_alias_name: localpart }, { token: alice.token }), 400, "M_ROOM_IN_USE");
    const canonical = await api.get(`${roomPath(roomId)}/state/m.room.canonical_alias`, { token: alice.token });
    assert.deepEqual(canonical.body, { alias });

    const second = `#${uniqueName("second")}:localhost`;
    assert.equal((await api.put(`${V3}/directory/room/${encodeURIComponent(second)}`, { room_id: roomId }, { token: alice.token })).status, 200);
    const duplicate = await api.put(`${V3}/directory/room/${encodeURIComponent(second)}`, { room_id: otherRoom }, { token: alice.token });
    assertError(duplicate, 409, "M_UNKNOWN");
    const notMember = await api.put(`${V3}/directory/room/${encodeURIComponent(`#${uniqueName("x")}:localhost`)}`, { room_id: roomId }, { token: bob.token, checkSpec: false });
    assertError(notMember, 403, "M_FORBIDDEN");
    const remote = await api.put(`${V3}/directory/room/${encodeURIComponent("#x:elsewhere.example")}`, { room_id: roomId }, { token: alice.token });
    assertError(remote, 400, "M_INVALID_PARAM");
    assertError(await api.get(`${roomPath(roomId)}/aliases`, { token: bob.token }), 403, "M_FORBIDDEN");
    await rooms.join(bob, `${roomId}`);
    const aliases = await api.get<{ aliases: string[] }>(`${roomPath(roomId)}/aliases`, { token: bob.token });
    assert.deepEqual(aliases.body.aliases, [alias, second]);

    const unknownAlias = await rooms.setState(alice, roomId, "m.room.canonical_alias", "", { alias: `#nope${uniqueName("n")}:localhost` });
    assertError(unknownAlias, 400, "M_BAD_ALIAS");
    const otherRoomsAlias = `#${uniqueName("other")}:localhost`;
    await api.put(`${V3}/directory/room/${encodeURIComponent(otherRoomsAlias)}`, { room_id: otherRoom }, { token: alice.token });
    assertError(await rooms.setState(alice, roomId, "m.room.canonical_alias", "", { alias, alt_aliases: [otherRoomsAlias] }), 400, "M_BAD_ALIAS");
    assertError(await rooms.setState(alice, roomId, "m.room.canonical_alias", "", { alias: "not an alias" }), 400, "M_BAD_ALIAS");
    assert.equal((await rooms.setState(alice, roomId, "m.room.canonical_alias", "", { alias, alt_aliases: [second] })).status, 200);

    const joinedByAlias = await api.post<{ room_id: string }>(`${V3}/join/${encodeURIComponent(alias)}`, {}, { token: bob.token });
    assert.deepEqual(joinedByAlias.body, { room_id: roomId });
    const bobDeletes = await api.delete(`${V3}/directory/room/${encodeURIComponent(second)}`, undefined, { token: bob.token, checkSpec: false });
    assertError(bobDeletes, 403, "M_FORBIDDEN");
    assert.equal((await api.delete(`${V3}/directory/room/${encodeURIComponent(second)}`, undefined, { token: alice.token })).status, 200);
    assertError(await api.get(`${V3}/directory/room/${encodeURIComponent(second)}`), 404, "M_NOT_FOUND");
    assertError(await api.delete(`${V3}/directory/room/${encodeURIComponent(second)}`, undefined, { token: alice.token }), 404, "M_NOT_FOUND");
  });
});

describe("bad input gets the spec's error, never a 5xx", () => {
  test("membership events, sizes, identifiers, unknown rooms, tokens and filters", async () => {
    const alice = await rooms.user("alice");
    const bob = await rooms.user("bob");
    const roomId = await rooms.createRoom(alice, { preset: "public_chat" });
    await rooms.join(bob, roomId);

    const responses: ApiResponse<unknown>[] = [];
    const expect = async (pending: Promise<ApiResponse<unknown>>, status: number, errcode: string) => {
      const response = await pending;
      responses.push(response);
      assertError(response, status, errcode);
    };
    const opts = (token: string) => ({ token, checkSpec: false });

    // Membership events whose state_key does not match what the sender may do.
    await expect(rooms.setState(bob, roomId, "m.room.member", alice.userId, { membership: "join" }), 403, "M_FORBIDDEN");
    await expect(rooms.setState(bob, roomId, "m.room.member", alice.userId, { membership: "leave" }), 403, "M_FORBIDDEN");
    await expect(rooms.setState(bob, roomId, "m.room.member", "not-a-user", { membership: "join" }), 400, "M_INVALID_PARAM");
    await expect(rooms.setState(bob, roomId, "m.room.member", bob.userId, { membership: 5 }), 400, "M_BAD_JSON");
    await expect(rooms.setState(alice, roomId, "m.room.power_levels", "", { users: { [alice.userId]: "lots" } }), 400, "M_BAD_JSON");

    // Events over 65536 bytes, and fields over 255 bytes.
    await expect(api.put(`${roomPath(roomId)}/send/m.room.message/${txn()}`, { body: "x".repeat(70_000) }, opts(alice.token)), 413, "M_TOO_LARGE");
    await expect(api.put(`${roomPath(roomId)}/send/${"t".repeat(300)}/${txn()}`, {}, opts(alice.token)), 413, "M_TOO_LARGE");
    await expect(rooms.setState(alice, roomId, "org.example.big", "k".repeat(300), {}), 413, "M_TOO_LARGE");
    await expect(api.put(`${roomPath(roomId)}/send/m.room.message/${txn()}`, { body: "x", n: 1.5 }, opts(alice.token)), 400, "M_BAD_JSON");
    await expect(api.put(`${roomPath(roomId)}/send/m.room.message/${txn()}`, undefined, { ...opts(alice.token), rawBody: "{nope" }), 400, "M_NOT_JSON");

    // Malformed room IDs and aliases.
    for (const bad of ["notaroom", "!nocolon", "#alias:localhost", "!bad:in valid"]) {
      const path = `${V3}/rooms/${encodeURIComponent(bad)}`;
      await expect(api.put(`${path}/send/m.room.message/${txn()}`, { body: "x" }, opts(alice.token)), 400, "M_INVALID_PARAM");
      await expect(api.get(`${path}/messages?dir=b`, opts(alice.token)), 400, "M_INVALID_PARAM");
      await expect(api.get(`${path}/state`, opts(alice.token)), 400, "M_INVALID_PARAM");
      await expect(api.post(`${path}/join`, {}, opts(alice.token)), 400, "M_INVALID_PARAM");
    }
    for (const bad of ["#nocolon", "lobby:localhost", "#bad:in valid"]) {
      await expect(api.get(`${V3}/directory/room/${encodeURIComponent(bad)}`, { checkSpec: false }), 400, "M_INVALID_PARAM");
      await expect(api.post(`${V3}/join/${encodeURIComponent(bad)}`, {}, opts(alice.token)), 400, "M_INVALID_PARAM");
    }
    await expect(api.post(`${V3}/createRoom`, { room_alias_name: "has space" }, opts(alice.token)), 400, "M_INVALID_PARAM");
    await expect(api.post(`${V3}/createRoom`, { invite: ["bob"] }, opts(alice.token)), 400, "M_INVALID_PARAM");
    await expect(rooms.membership(alice, roomId, "invite", { user_id: "bob" }), 400, "M_INVALID_PARAM");
    await expect(rooms.membership(alice, roomId, "invite", {}), 400, "M_MISSING_PARAM");

    // Unknown rooms.
    const unknown = roomPath("!doesnotexist:localhost");
    await expect(api.put(`${unknown}/send/m.room.message/${txn()}`, { body: "x" }, opts(alice.token)), 404, "M_NOT_FOUND");
    await expect(api.put(`${unknown}/state/m.room.name`, { name: "x" }, opts(alice.token)), 404, "M_NOT_FOUND");
    await expect(api.post(`${unknown}/join`, {}, opts(alice.token)), 404, "M_NOT_FOUND");
    await expect(api.post(`${unknown}/invite`, { user_id: bob.userId }, opts(alice.token)), 404, "M_NOT_FOUND");
    await expect(api.get(`${unknown}/messages?dir=b`, opts(alice.token)), 403, "M_FORBIDDEN");
    await expect(api.get(`${unknown}/state`, opts(alice.token)), 403, "M_FORBIDDEN");
    await expect(api.get(`${unknown}/members`, opts(alice.token)), 403, "M_FORBIDDEN");
    await expect(api.get(`${unknown}/event/$nope`, opts(alice.token)), 404, "M_NOT_FOUND");
    await expect(api.post(`${V3}/join/${encodeURIComponent("#nothing-here:localhost")}`, {}, opts(alice.token)), 404, "M_NOT_FOUND");

    // Not a member of an existing room.
    const carol = await rooms.user("carol");
    await expect(api.put(`${roomPath(roomId)}/send/m.room.message/${txn()}`, { body: "x" }, opts(carol.token)), 403, "M_FORBIDDEN");
    await expect(rooms.membership(carol, roomId, "leave"), 403, "M_FORBIDDEN");

    // Pagination tokens, filters and parameters.
    await expect(rooms.messages(alice, roomId, "dir=b&from=bogus", false), 400, "M_INVALID_PARAM");
    await expect(rooms.messages(alice, roomId, "dir=sideways", false), 400, "M_INVALID_PARAM");
    await expect(rooms.messages(alice, roomId, "dir=b&limit=-1", false), 400, "M_INVALID_PARAM");
    await expect(rooms.messages(alice, roomId, "dir=b&filter=%7Bnope", false), 400, "M_NOT_JSON");
    await expect(rooms.messages(alice, roomId, `dir=b&filter=${encodeURIComponent('{"types":"m.room.message"}')}`, false), 400, "M_BAD_JSON");
    await expect(api.get(`${roomPath(roomId)}/members?membership=party`, opts(alice.token)), 400, "M_INVALID_PARAM");
    await expect(api.get(`${roomPath(roomId)}/event/${encodeURIComponent("$unknown")}`, opts(alice.token)), 404, "M_NOT_FOUND");
    await expect(api.put(`${roomPath(roomId)}/redact/not-an-event/${txn()}`, {}, opts(alice.token)), 400, "M_INVALID_PARAM");

    assert.ok(responses.every((response) => response.status < 500));
  });

  test("unauthenticated requests are refused", async () => {
    const anonymous = await api.post(`${V3}/createRoom`, {});
    assertError(anonymous, 401, "M_MISSING_TOKEN");
  });
});

test("pagination tokens and rooms survive a restart", async () => {
  const dataDir = mkdtempSync(joinPath(tmpdir(), "hs-rooms-restart-"));
  const options = { port: await freePort(), dataDir, vars: TEST_VARS };
  try {
    let running = await startHomeserver(options);
    let client = new TestClient(running.url);
    const registered = await client.register(uniqueName("persist"), "password");
    const owner = { token: registered.access_token };
    const created = await client.post<{ room_id: string }>(`${V3}/createRoom`, { name: "Durable" }, owner);
    const roomId = created.body.room_id;
    for (let index = 0; index < 5; index++) {
      await client.put(`${roomPath(roomId)}/send/m.room.message/p${index}`, { msgtype: "m.text", body: `m${index}` }, owner);
    }
    const firstPage = await client.get<MessagesBody>(`${roomPath(roomId)}/messages?dir=b&limit=3`, owner);
    await running.stop();

    running = await startHomeserver(options);
    client = new TestClient(running.url);
    try {
      const nextPage = await client.get<MessagesBody>(`${roomPath(roomId)}/messages?dir=b&limit=3&from=${firstPage.body.end}`, owner);
      assert.equal(nextPage.status, 200);
      assert.deepEqual(nextPage.body.chunk.map((event) => event.content.body ?? event.type), ["m1", "m0", "m.room.name"]);
      const sentAgain = await client.put<{ event_id: string }>(`${roomPath(roomId)}/send/m.room.message/p4`, { body: "retry" }, owner);
      assert.equal(sentAgain.body.event_id, firstPage.body.chunk[0]?.event_id, "transaction IDs survive too");
      const joinedRooms = await client.get<{ joined_rooms: string[] }>(`${V3}/joined_rooms`, owner);
      assert.deepEqual(joinedRooms.body.joined_rooms, [roomId]);
    } finally {
      await running.stop();
    }
  } finally {
    rmSync(dataDir, { recursive: true, force: true });
  }
});
