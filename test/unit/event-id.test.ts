import assert from "node:assert/strict";
import { describe, it } from "node:test";
import {
  EventIdError,
  computeEventId,
  computeRoomIdFromCreateEvent,
  createEventIdFromRoomId,
  generateLegacyEventId,
  getEventId,
} from "../../src/core/events/event-id";
import { addContentHash } from "../../src/core/events/hashing";
import type { PDU } from "../../src/core/events/pdu";
import { isValidEventId, isValidRoomId } from "../../src/core/identifiers";
import { getRoomVersion, type RoomVersion } from "../../src/core/room-versions";

const version = (id: string): RoomVersion => getRoomVersion(id)!;

// Expected IDs below were computed independently with the spec's Python
// canonical_json snippet (json.dumps, sort_keys, ensure_ascii=False), hashlib and a
// direct transcription of the redaction rules.
const message: PDU = {
  type: "m.room.message",
  room_id: "!abc:example.org",
  sender: "@alice:example.org",
  origin_server_ts: 1700000000001,
  content: { msgtype: "m.text", body: "héllo 😀" },
  prev_events: ["$a"],
  auth_events: ["$b", "$c"],
  depth: 5,
  signatures: {},
  hashes: { sha256: "QwkJ/N5OlsF2exS2nbwNMp4J3fBhxsVF2VgA1sgC9ic" },
};

const v12Create: PDU = {
  type: "m.room.create",
  state_key: "",
  sender: "@alice:example.org",
  origin_server_ts: 1700000000000,
  content: { room_version: "12", additional_creators: ["@bob:example.org"], "m.federate": true },
  prev_events: [],
  auth_events: [],
  depth: 1,
  signatures: {},
  unsigned: { age: 3 },
  hashes: { sha256: "DP7cr34JFYLi2fGwzpYpCDPggrnqeA+sWHxoo5A+chw" },
};

describe("event IDs", () => {
  it("the fixtures carry correct content hashes", () => {
    assert.equal(addContentHash(message).hashes.sha256, message.hashes.sha256);
    assert.equal(addContentHash(v12Create).hashes.sha256, v12Create.hashes.sha256);
  });

  it("v3 uses standard base64 of the reference hash", () => {
    assert.equal(computeEventId(message, version("3")), "$9edtFGVn2BcmsfZqMdbzx9g8bnE6HUN/kcDdngro1tQ");
  });

  for (const id of ["4", "5", "6", "7", "8", "9", "10", "11", "12"]) {
    it(`v${id} uses URL-safe base64 of the reference hash`, () => {
      const eventId = computeEventId(message, version(id));
      assert.equal(eventId, "$9edtFGVn2BcmsfZqMdbzx9g8bnE6HUN_kcDdngro1tQ");
      assert.ok(isValidEventId(eventId, version(id)));
    });
  }

  it("IDs follow each version's redaction algorithm (origin covered before v11 only)", () => {
    const withOrigin = { ...message, origin: "example.org" };
    assert.notEqual(computeEventId(withOrigin, version("10")), computeEventId(message, version("10")));
    assert.equal(computeEventId(withOrigin, version("11")), computeEventId(message, version("11")));
  });

  it("ignore non-essential content, signatures, unsigned and a carried event_id", () => {
    const noisy = {
      ...message,
      signatures: { "example.org": { "ed25519:1": "x" } },
      unsigned: { age: 1 },
      event_id: "$whatever",
    };
    assert.equal(computeEventId(noisy, version("10")), computeEventId(message, version("10")));
  });

  it("v1/v2 event IDs are carried, not computed", () => {
    assert.throws(() => computeEventId(message, version("1")), EventIdError);
    assert.equal(getEventId({ ...message, event_id: "$x:example.org" }, version("2")), "$x:example.org");
    assert.throws(() => getEventId(message, version("1")), EventIdError);
    assert.equal(getEventId(message, version("4")), computeEventId(message, version("4")));
  });

  it("generates legacy event IDs of the form $random:server", () => {
    const a = generateLegacyEventId("example.org:8448");
    const b = generateLegacyEventId("example.org:8448");
    assert.match(a, /^\$[A-Za-z0-9]{18}:example\.org:8448$/);
    assert.notEqual(a, b);
    assert.ok(isValidEventId(a, version("1")));
  });
});

describe("v12 room IDs", () => {
  it("are ! + URL-safe base64 of the create event's reference hash", () => {
    const roomId = computeRoomIdFromCreateEvent(v12Create, version("12"));
    assert.equal(roomId, "!hHxmArZogyxfywjX4jOmodq5sXclQs6Jmczyl3IfoJM");
    assert.ok(isValidRoomId(roomId, version("12")));
    assert.equal(createEventIdFromRoomId(roomId), computeEventId(v12Create, version("12")));
  });

  it("cover the whole create content (v11+ redaction keeps it)", () => {
    const changed = addContentHash({ ...v12Create, content: { ...v12Create.content, additional_creators: [] } });
    assert.notEqual(computeRoomIdFromCreateEvent(changed, version("12")), "!hHxmArZogyxfywjX4jOmodq5sXclQs6Jmczyl3IfoJM");
  });

  it("are only derived in v12 and only from a create event without room_id", () => {
    assert.throws(() => computeRoomIdFromCreateEvent(v12Create, version("11")), EventIdError);
    assert.throws(() => computeRoomIdFromCreateEvent(message, version("12")), EventIdError);
    assert.throws(() => computeRoomIdFromCreateEvent({ ...v12Create, room_id: "!x" }, version("12")), EventIdError);
  });
});
