import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { MAX_PDU_BYTES, checkPduSizeLimits } from "../../src/core/events/limits";
import type { PDU } from "../../src/core/events/pdu";
import { encodeCanonicalJson } from "../../src/core/canonical-json";
import { getRoomVersion } from "../../src/core/room-versions";

const base: PDU = {
  room_id: "!r:example.org",
  sender: "@a:example.org",
  origin_server_ts: 1,
  type: "m.room.message",
  content: { body: "" },
  prev_events: [],
  auth_events: [],
  depth: 1,
  hashes: { sha256: "h" },
  signatures: {},
};

/** An event whose canonical JSON is exactly `size` bytes. */
function eventOfSize(size: number): PDU {
  const overhead = encodeCanonicalJson(base).length;
  return { ...base, content: { body: "x".repeat(size - overhead) } };
}

describe("PDU size limits", () => {
  it("accepts an ordinary event", () => {
    assert.equal(checkPduSizeLimits(base), null);
  });

  it("allows exactly 65536 bytes and rejects 65537", () => {
    assert.equal(encodeCanonicalJson(eventOfSize(MAX_PDU_BYTES)).length, 65536);
    assert.equal(checkPduSizeLimits(eventOfSize(MAX_PDU_BYTES)), null);
    assert.match(checkPduSizeLimits(eventOfSize(MAX_PDU_BYTES + 1)) ?? "", /65537 bytes/);
  });

  it("counts UTF-8 bytes, not characters", () => {
    const overhead = encodeCanonicalJson(base).length;
    const body = "é".repeat(Math.ceil((MAX_PDU_BYTES - overhead) / 2) + 1);
    assert.notEqual(checkPduSizeLimits({ ...base, content: { body } }), null);
  });

  it("counts signatures", () => {
    const almost = eventOfSize(MAX_PDU_BYTES - 10);
    assert.equal(checkPduSizeLimits(almost), null);
    assert.notEqual(checkPduSizeLimits({ ...almost, signatures: { "example.org": { "ed25519:1": "x".repeat(86) } } }), null);
  });

  for (const field of ["sender", "room_id", "state_key", "type", "event_id"] as const) {
    it(`limits ${field} to 255 bytes`, () => {
      const prefix = field === "sender" ? "@" : field === "room_id" ? "!" : field === "event_id" ? "$" : "";
      const ok = prefix + "a".repeat(255 - prefix.length);
      const tooLong = prefix + "a".repeat(254 - prefix.length) + "é";
      assert.equal(checkPduSizeLimits({ ...base, [field]: ok }), null);
      assert.match(checkPduSizeLimits({ ...base, [field]: tooLong }) ?? "", new RegExp(`^${field} `));
    });
  }

  it("reports events that are not canonical JSON", () => {
    assert.match(checkPduSizeLimits({ ...base, content: { n: 1.5 } }) ?? "", /canonical JSON/);
    const big = { ...base, depth: 2 ** 60 };
    assert.equal(checkPduSizeLimits(big, getRoomVersion("5")), null);
    assert.notEqual(checkPduSizeLimits(big, getRoomVersion("6")), null);
  });
});
