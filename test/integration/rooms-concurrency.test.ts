/**
 * Concurrent senders into one room: the Room Durable Object is the single writer, so every event is
 * stored once, every reader sees one total order, and the event graph stays a single chain.
 */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { useTestHomeserver } from "../support/homeserver";
import { assertError, roomPath, type ClientEvent, type User } from "../support/rooms";

const homeserver = useTestHomeserver();
const { api, rooms } = homeserver;

describe("concurrency", () => {
  test("20 concurrent senders: each event stored once, one total order, a linear graph", async () => {
    const alice = await rooms.user("alice");
    const roomId = await rooms.createRoom(alice, { preset: "public_chat" });
    const senders: User[] = await Promise.all(
      Array.from({ length: 20 }, async () => {
        const sender = await rooms.user("sender");
        await rooms.join(sender, roomId);
        return sender;
      }),
    );
    const rounds = 3;
    const sent = await Promise.all(
      senders.flatMap((sender, senderIndex) =>
        Array.from({ length: rounds }, (_, round) => rooms.send(sender, roomId, { msgtype: "m.text", body: `${senderIndex}/${round}` }, `c-${round}`)),
      ),
    );
    assert.equal(new Set(sent).size, senders.length * rounds);
    // Retrying every request concurrently creates nothing new.
    const retried = await Promise.all(
      senders.flatMap((sender, senderIndex) =>
        Array.from({ length: rounds }, (_, round) => rooms.send(sender, roomId, { msgtype: "m.text", body: `${senderIndex}/${round}` }, `c-${round}`)),
      ),
    );
    assert.deepEqual(retried, sent);

    const forwards = await rooms.fullHistory(alice, roomId, 17);
    const ids = forwards.map((event) => event.event_id);
    assert.equal(new Set(ids).size, ids.length, "no event twice");
    for (const eventId of sent) assert.equal(ids.filter((id) => id === eventId).length, 1);
    const backwards = await rooms.fullHistoryBackwards(senders[0]!, roomId, 13);
    assert.deepEqual(backwards.map((event) => event.event_id).reverse(), ids, "every reader sees the same total order");
    for (const [senderIndex, sender] of senders.entries()) {
      const own = forwards.filter((event) => event.sender === sender.userId && event.type === "m.room.message");
      assert.equal(own.length, rounds);
      const fetched = await api.get<ClientEvent>(`${roomPath(roomId)}/event/${encodeURIComponent(own[0]!.event_id)}`, { token: alice.token });
      assert.equal(fetched.body.sender, sender.userId);
      assert.match(String(fetched.body.content.body), new RegExp(`^${senderIndex}/`));
    }

    // A linear graph: one forward extremity whose depth is the number of events, so every event's
    // depth is its predecessor's plus one along a single chain of prev_events.
    const admin = await rooms.admin(homeserver.server.registrationSharedSecret);
    const extremities = await api.get<{ count: number; results: { event_id: string; depth: number }[] }>(
      `/_synapse/admin/v1/rooms/${encodeURIComponent(roomId)}/forward_extremities`,
      { token: admin, checkSpec: false },
    );
    assert.equal(extremities.status, 200);
    assert.equal(extremities.body.count, 1);
    assert.equal(extremities.body.results[0]?.event_id, ids.at(-1));
    assert.equal(extremities.body.results[0]?.depth, ids.length);
    const notAdmin = await api.get(`/_synapse/admin/v1/rooms/${encodeURIComponent(roomId)}/forward_extremities`, { token: alice.token, checkSpec: false });
    assertError(notAdmin, 403, "M_FORBIDDEN");
  });
});
