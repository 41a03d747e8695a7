/** The pure parts of serving room history: filters, history visibility, pagination tokens, client events. */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { PDU } from "../../src/core/events/pdu";
import { redactEvent } from "../../src/core/events/redaction";
import { getRoomVersion } from "../../src/core/room-versions";
import { MatrixError } from "../../src/http/errors";
import { toClientEvent } from "../../src/rooms/client-event";
import { filterAllowsRoom, matchesRoomEventFilter, parseRoomEventFilter } from "../../src/rooms/event-filter";
import { historyVisibilityOf, mayUserSeeEvent, type EventVisibilityFacts, type HistoryVisibility } from "../../src/rooms/history-visibility";
import { decodeRoomToken, encodeRoomToken } from "../../src/rooms/pagination-token";

const matrixError = (errcode: string) => (error: unknown) => error instanceof MatrixError && error.errcode === errcode;

describe("RoomEventFilter", () => {
  const message = { type: "m.room.message", sender: "@a:x", content: { body: "hi" } };
  const image = { type: "m.room.message", sender: "@b:x", content: { body: "pic", url: "mxc://x/y" } };
  const member = { type: "m.room.member", sender: "@a:x", content: { membership: "join" } };

  it("parses JSON and rejects what is not a filter", () => {
    assert.deepEqual(parseRoomEventFilter(undefined), {});
    assert.deepEqual(parseRoomEventFilter('{"types":["m.room.*"],"lazy_load_members":true}'), {
      types: ["m.room.*"],
      lazy_load_members: true,
    });
    assert.throws(() => parseRoomEventFilter("{not json"), matrixError("M_NOT_JSON"));
    assert.throws(() => parseRoomEventFilter("[]"), matrixError("M_BAD_JSON"));
    assert.throws(() => parseRoomEventFilter('{"types":"m.room.message"}'), matrixError("M_BAD_JSON"));
  });

  it("matches types with wildcards, senders and contains_url; exclusions win", () => {
    assert.ok(matchesRoomEventFilter({ types: ["m.room.*"] }, member));
    assert.ok(!matchesRoomEventFilter({ types: ["m.room.message"] }, member));
    assert.ok(!matchesRoomEventFilter({ types: ["m.*"], not_types: ["m.room.member"] }, member));
    assert.ok(!matchesRoomEventFilter({ types: ["m.room.mess"] }, message), "no implicit prefix match");
    assert.ok(!matchesRoomEventFilter({ types: ["m.room.messag?"] }, message), "only * is a wildcard");
    assert.ok(matchesRoomEventFilter({ senders: ["@a:x"] }, message));
    assert.ok(!matchesRoomEventFilter({ senders: ["@a:x"], not_senders: ["@a:x"] }, message));
    assert.ok(matchesRoomEventFilter({ contains_url: true }, image));
    assert.ok(!matchesRoomEventFilter({ contains_url: true }, message));
    assert.ok(matchesRoomEventFilter({ contains_url: false }, message));
    assert.ok(filterAllowsRoom({}, "!r:x"));
    assert.ok(!filterAllowsRoom({ rooms: ["!other:x"] }, "!r:x"));
    assert.ok(!filterAllowsRoom({ not_rooms: ["!r:x"] }, "!r:x"));
  });
});

describe("history visibility", () => {
  const facts = (visibility: HistoryVisibility, membership: string | undefined, joinedSince = false): EventVisibilityFacts => ({
    visibilityBefore: visibility,
    visibilityAfter: visibility,
    membershipBefore: membership,
    membershipAfter: membership,
    joinedSince,
  });

  it("defaults to shared", () => {
    assert.equal(historyVisibilityOf(undefined), "shared");
    assert.equal(historyVisibilityOf({ history_visibility: "nonsense" }), "shared");
    assert.equal(historyVisibilityOf({ history_visibility: "joined" }), "joined");
  });

  it("applies the spec's rules", () => {
    assert.ok(mayUserSeeEvent(facts("world_readable", undefined)));
    assert.ok(mayUserSeeEvent(facts("joined", "join")));
    assert.ok(!mayUserSeeEvent(facts("joined", "invite")));
    assert.ok(mayUserSeeEvent(facts("invited", "invite")));
    assert.ok(!mayUserSeeEvent(facts("invited", "leave")));
    assert.ok(mayUserSeeEvent(facts("shared", undefined, true)), "shared: joined after the event");
    assert.ok(!mayUserSeeEvent(facts("shared", "leave", false)), "shared: never joined since");
    assert.ok(!mayUserSeeEvent(facts("joined", undefined, true)), "joined: joining later does not reveal history");
  });

  it("lets the state before or after decide for visibility changes and the user's own membership", () => {
    assert.ok(mayUserSeeEvent({ ...facts("joined", undefined), visibilityBefore: "world_readable" }));
    assert.ok(mayUserSeeEvent({ ...facts("joined", undefined), visibilityAfter: "world_readable" }));
    assert.ok(mayUserSeeEvent({ ...facts("joined", "leave"), membershipBefore: "join" }), "a user sees their own leave");
    assert.ok(mayUserSeeEvent({ ...facts("joined", undefined), membershipAfter: "join" }), "a user sees their own join");
  });

  it("always shows a user the leave that ends their invite or knock", () => {
    for (const before of ["invite", "knock"]) {
      assert.ok(mayUserSeeEvent({ ...facts("joined", "leave"), membershipBefore: before }), `leaving from ${before}`);
    }
    assert.ok(!mayUserSeeEvent({ ...facts("joined", "leave"), membershipBefore: "ban" }), "an unban is not the user's to see");
    assert.ok(!mayUserSeeEvent({ ...facts("joined", "knock"), membershipBefore: "leave" }), "a knock shows no history");
  });
});

describe("pagination tokens", () => {
  it("round-trip and reject anything else with M_INVALID_PARAM", () => {
    assert.equal(decodeRoomToken(encodeRoomToken(0), "from"), 0);
    assert.equal(decodeRoomToken(encodeRoomToken(123456), "from"), 123456);
    for (const bad of ["", "r", "r-1", "r01", "s5", "r1.5", "r9999999999999999"]) {
      assert.throws(() => decodeRoomToken(bad, "from"), matrixError("M_INVALID_PARAM"), bad);
    }
  });
});

describe("client events", () => {
  const v11 = getRoomVersion("11")!;
  const v10 = getRoomVersion("10")!;
  const pdu = (fields: Partial<PDU>): PDU => ({
    room_id: "!r:x",
    sender: "@a:x",
    origin_server_ts: 1000,
    type: "m.room.message",
    content: { body: "hi" },
    prev_events: [],
    auth_events: [],
    depth: 3,
    hashes: { sha256: "h" },
    signatures: { x: { "ed25519:k": "s" } },
    ...fields,
  });

  it("drops federation fields and adds event_id, room_id and unsigned", () => {
    const event = toClientEvent({ eventId: "$e", roomId: "!r:x", pdu: pdu({}), transactionId: "t1" }, v11, 1500);
    assert.deepEqual(event, {
      event_id: "$e",
      room_id: "!r:x",
      sender: "@a:x",
      type: "m.room.message",
      content: { body: "hi" },
      origin_server_ts: 1000,
      unsigned: { age: 500, transaction_id: "t1" },
    });
  });

  it("adds prev_content for state and redacted_because for redacted events", () => {
    const previous = { eventId: "$old", pdu: pdu({ type: "m.room.name", state_key: "", content: { name: "Old" }, sender: "@b:x" }) };
    const redaction = toClientEvent({ eventId: "$red", roomId: "!r:x", pdu: pdu({ type: "m.room.redaction", content: { redacts: "$e" } }) }, v11, 2000);
    assert.equal(redaction.redacts, "$e", "v11 redactions also get the top-level redacts");
    const redacted = toClientEvent(
      {
        eventId: "$e",
        roomId: "!r:x",
        pdu: redactEvent(pdu({ type: "m.room.name", state_key: "", content: { name: "New" } }), v11),
        replacedState: previous,
        redactedBecause: redaction,
      },
      v11,
      2000,
    );
    assert.deepEqual(redacted.content, {});
    assert.equal(redacted.state_key, "");
    assert.deepEqual(redacted.unsigned, {
      age: 1000,
      prev_content: { name: "Old" },
      prev_sender: "@b:x",
      replaces_state: "$old",
      redacted_because: redaction,
    });
    const v10Redaction = toClientEvent({ eventId: "$red", roomId: "!r:x", pdu: pdu({ type: "m.room.redaction", content: {}, redacts: "$e" }) }, v10, 2000);
    assert.equal(v10Redaction.redacts, "$e");
    assert.deepEqual(v10Redaction.content, { redacts: "$e" }, "pre-v11 redactions also get content.redacts");
  });
});
