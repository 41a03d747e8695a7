import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { JsonObject, PDU } from "../../src/core/events/pdu";
import { redactEvent } from "../../src/core/events/redaction";
import { getRoomVersion, type RoomVersion } from "../../src/core/room-versions";

const ALL_VERSIONS = ["1", "2", "3", "4", "5", "6", "7", "8", "9", "10", "11", "12"];
const version = (id: string): RoomVersion => getRoomVersion(id)!;
const versionsFrom = (first: number, last = 12) => ALL_VERSIONS.filter((id) => Number(id) >= first && Number(id) <= last);

function event(type: string, content: JsonObject, extra: JsonObject = {}): PDU {
  return {
    event_id: "$legacy:example.org",
    room_id: "!room:example.org",
    sender: "@alice:example.org",
    origin_server_ts: 1234,
    type,
    state_key: "",
    content,
    prev_events: ["$prev"],
    auth_events: ["$auth"],
    depth: 7,
    hashes: { sha256: "hash" },
    signatures: { "example.org": { "ed25519:1": "sig" } },
    ...extra,
  } as PDU;
}

/** Which content keys survive, for each room version, given the full content below. */
function expectContent(
  type: string,
  content: JsonObject,
  expected: (roomVersion: number) => object,
): void {
  for (const id of ALL_VERSIONS) {
    it(`${type} in room version ${id}`, () => {
      assert.deepEqual(redactEvent(event(type, content), version(id)).content, expected(Number(id)));
    });
  }
}

describe("redaction: top-level keys", () => {
  const full = event("m.room.message", { body: "hi" }, {
    origin: "example.org",
    membership: "join",
    prev_state: [],
    redacts: "$target",
    unsigned: { age_ts: 5 },
    custom_field: "x",
  });
  const common = {
    event_id: "$legacy:example.org",
    type: "m.room.message",
    room_id: "!room:example.org",
    sender: "@alice:example.org",
    state_key: "",
    content: {},
    hashes: { sha256: "hash" },
    signatures: { "example.org": { "ed25519:1": "sig" } },
    depth: 7,
    prev_events: ["$prev"],
    auth_events: ["$auth"],
    origin_server_ts: 1234,
  };
  for (const id of versionsFrom(1, 10)) {
    it(`room version ${id} keeps origin, membership and prev_state; drops redacts, unsigned and unknown keys`, () => {
      assert.deepEqual(redactEvent(full, version(id)), {
        ...common,
        origin: "example.org",
        membership: "join",
        prev_state: [],
      });
    });
  }
  for (const id of versionsFrom(11)) {
    it(`room version ${id} also drops origin, membership and prev_state`, () => {
      assert.deepEqual(redactEvent(full, version(id)), common);
    });
  }
  it("does not add keys the event lacks (other than content)", () => {
    const minimal = { type: "m.room.message", sender: "@a:b", content: { body: "x" } } as unknown as JsonObject;
    assert.deepEqual(redactEvent(minimal, version("1")), { type: "m.room.message", sender: "@a:b", content: {} });
  });
});

describe("redaction: m.room.member", () => {
  const content = {
    membership: "join",
    join_authorised_via_users_server: "@admin:example.org",
    displayname: "Alice",
    avatar_url: "mxc://example.org/a",
    reason: "hi",
    third_party_invite: { display_name: "alice@example.com", signed: { mxid: "@alice:example.org", token: "t" } },
  };
  expectContent("m.room.member", content, (v) => {
    if (v <= 8) return { membership: "join" };
    if (v <= 10) return { membership: "join", join_authorised_via_users_server: "@admin:example.org" };
    return {
      membership: "join",
      join_authorised_via_users_server: "@admin:example.org",
      third_party_invite: { signed: { mxid: "@alice:example.org", token: "t" } },
    };
  });
  it("v11 keeps third_party_invite without `signed` as an empty object, drops a non-object", () => {
    const noSigned = event("m.room.member", { membership: "invite", third_party_invite: { display_name: "x" } });
    assert.deepEqual(redactEvent(noSigned, version("11")).content, { membership: "invite", third_party_invite: {} });
    const notObject = event("m.room.member", { membership: "invite", third_party_invite: "x" });
    assert.deepEqual(redactEvent(notObject, version("11")).content, { membership: "invite" });
  });
});

describe("redaction: m.room.create", () => {
  const content = {
    creator: "@alice:example.org",
    room_version: "9",
    "m.federate": false,
    predecessor: { room_id: "!old:example.org" },
    type: "m.space",
    additional_creators: ["@bob:example.org"],
  };
  // v11 keeps all of the create content; v10 and earlier only `creator`.
  expectContent("m.room.create", content, (v) => (v <= 10 ? { creator: "@alice:example.org" } : content));
});

describe("redaction: m.room.join_rules", () => {
  const content = { join_rule: "restricted", allow: [{ type: "m.room_membership", room_id: "!r:x" }], extra: 1 };
  expectContent("m.room.join_rules", content, (v) =>
    v <= 7 ? { join_rule: "restricted" } : { join_rule: "restricted", allow: content.allow },
  );
});

describe("redaction: m.room.power_levels", () => {
  const content = {
    ban: 50,
    events: { "m.room.name": 50 },
    events_default: 0,
    invite: 0,
    kick: 50,
    redact: 50,
    state_default: 50,
    users: { "@alice:example.org": 100 },
    users_default: 0,
    notifications: { room: 50 },
    historical: 100,
  };
  const { invite: _invite, notifications: _notifications, historical: _historical, ...alwaysKept } = content;
  // `invite` is kept from v11; `notifications` never is.
  expectContent("m.room.power_levels", content, (v) => (v <= 10 ? alwaysKept : { ...alwaysKept, invite: 0 }));
});

describe("redaction: m.room.aliases", () => {
  // Protected in v1-v5 only (MSC2432 removed it in v6).
  expectContent("m.room.aliases", { aliases: ["#a:example.org"], other: 1 }, (v) =>
    v <= 5 ? { aliases: ["#a:example.org"] } : {},
  );
});

describe("redaction: m.room.history_visibility", () => {
  expectContent("m.room.history_visibility", { history_visibility: "shared", other: 1 }, () => ({
    history_visibility: "shared",
  }));
});

describe("redaction: m.room.redaction", () => {
  // content.redacts is kept from v11 (where it moved into content).
  expectContent("m.room.redaction", { redacts: "$target", reason: "spam" }, (v) =>
    v <= 10 ? {} : { redacts: "$target" },
  );
});

describe("redaction: other event types lose all content", () => {
  for (const type of ["m.room.message", "m.room.name", "m.room.topic", "m.room.guest_access", "m.room.encryption", "m.room.third_party_invite"]) {
    expectContent(type, { body: "x", name: "n", topic: "t", membership: "join", join_rule: "public" }, () => ({}));
  }
});

describe("redaction: purity", () => {
  it("returns new objects and leaves the input unchanged", () => {
    const input = event("m.room.member", { membership: "join", displayname: "A" }, { unsigned: { age: 1 } });
    const copy = structuredClone(input);
    const redacted = redactEvent(input, version("11"));
    assert.deepEqual(input, copy);
    assert.notEqual(redacted, input);
    assert.notEqual(redacted.content, input.content);
  });
  it("treats malformed content as empty", () => {
    const malformed = { ...event("m.room.member", {}), content: "x" } as unknown as JsonObject;
    assert.deepEqual(redactEvent(malformed, version("1"))["content"], {});
  });
});
