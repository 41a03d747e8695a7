import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { decodeBase64 } from "../../src/core/crypto/base64";
import { signingKeyFromSeed, type SigningKey } from "../../src/core/crypto/ed25519";
import { addContentHash, checkContentHash, computeContentHash, computeReferenceHash } from "../../src/core/events/hashing";
import type { PDU } from "../../src/core/events/pdu";
import { redactEvent } from "../../src/core/events/redaction";
import { hashAndSignEvent, signEvent, verifyEventSignature } from "../../src/core/events/signing";
import { ROOM_VERSIONS, getRoomVersion, type RoomVersion } from "../../src/core/room-versions";

const version = (id: string): RoomVersion => getRoomVersion(id)!;
const specKey = (): Promise<SigningKey> =>
  signingKeyFromSeed("ed25519:1", decodeBase64("YJDBA9Xnr2sVqXD9Vj7XVUnmFZcZrlw8Md7kMW+3XA1"));

// The spec's examples are not complete PDUs (the second has no depth or prev_events),
// so they are typed loosely and cast where the API wants a PDU.
const asPdu = (value: object): PDU => structuredClone(value) as PDU;

// appendices.md, "Cryptographic Test Vectors > Event Signing", first example.
const minimalEvent = {
  room_id: "!x:domain",
  sender: "@a:domain",
  origin: "domain",
  origin_server_ts: 1000000,
  signatures: {},
  hashes: {},
  type: "X",
  content: {},
  prev_events: [],
  auth_events: [],
  depth: 3,
  unsigned: { age_ts: 1000000 },
};
const minimalEventSigned = {
  auth_events: [],
  content: {},
  depth: 3,
  hashes: { sha256: "5jM4wQpv6lnBo7CLIghJuHdW+s2CMBJPUOGOC89ncos" },
  origin: "domain",
  origin_server_ts: 1000000,
  prev_events: [],
  room_id: "!x:domain",
  sender: "@a:domain",
  signatures: {
    domain: {
      "ed25519:1": "KxwGjPSDEtvnFgU00fwFz+l6d2pJM6XBIaMEn81SXPTRl16AqLAYqfIReFGZlHi5KLjAWbOoMszkwsQma+lYAg",
    },
  },
  type: "X",
  unsigned: { age_ts: 1000000 },
};

// Second example: an event whose content is removed by redaction.
const messageEvent = {
  content: { body: "Here is the message content" },
  event_id: "$0:domain",
  origin: "domain",
  origin_server_ts: 1000000,
  type: "m.room.message",
  room_id: "!r:domain",
  sender: "@u:domain",
  signatures: {},
  unsigned: { age_ts: 1000000 },
};
const messageEventSigned = {
  content: { body: "Here is the message content" },
  event_id: "$0:domain",
  hashes: { sha256: "onLKD1bGljeBWQhWZ1kaP9SorVmRQNdN5aM2JYU2n/g" },
  origin: "domain",
  origin_server_ts: 1000000,
  type: "m.room.message",
  room_id: "!r:domain",
  sender: "@u:domain",
  signatures: {
    domain: {
      "ed25519:1": "Wm+VzmOUOz08Ds+0NTWb1d4CZrVsJSikkeRxh6aCcUwu6pNC78FunoD7KNWzqFn241eYHYMGCA5McEiVPdhzBA",
    },
  },
  unsigned: { age_ts: 1000000 },
};

// The examples keep the top-level `origin` in the signed (redacted) form, so they use
// the redaction algorithm of room versions 1-10.
const PRE_V11_VERSIONS = ["1", "2", "3", "4", "5", "6", "7", "8", "9", "10"].map(version);

describe("event signing: spec test vectors", () => {
  for (const roomVersion of PRE_V11_VERSIONS) {
    it(`signs the minimal event (room version ${roomVersion.id})`, async () => {
      const signed = await hashAndSignEvent(asPdu(minimalEvent), "domain", await specKey(), roomVersion);
      assert.deepEqual(signed, minimalEventSigned);
    });
    it(`signs the redactable message event (room version ${roomVersion.id})`, async () => {
      const signed = await hashAndSignEvent(asPdu(messageEvent), "domain", await specKey(), roomVersion);
      assert.deepEqual(signed, messageEventSigned);
    });
  }

  it("computes the content hashes in the vectors", () => {
    assert.equal(computeContentHash(asPdu(minimalEvent)), "5jM4wQpv6lnBo7CLIghJuHdW+s2CMBJPUOGOC89ncos");
    assert.equal(computeContentHash(asPdu(messageEvent)), "onLKD1bGljeBWQhWZ1kaP9SorVmRQNdN5aM2JYU2n/g");
  });

  it("verifies the signed vectors, including after redaction", async () => {
    const key = await specKey();
    for (const signed of [minimalEventSigned, messageEventSigned]) {
      const pdu = asPdu(signed);
      assert.equal(await verifyEventSignature(pdu, "domain", "ed25519:1", key.publicKey, version("1")), true);
      const redacted = redactEvent(pdu, version("1"));
      assert.equal(await verifyEventSignature(redacted, "domain", "ed25519:1", key.publicKey, version("1")), true);
    }
  });

  it("the v11 algorithm drops `origin`, so the same event gets a different signature", async () => {
    const key = await specKey();
    const signed = await hashAndSignEvent(asPdu(minimalEvent), "domain", key, version("11"));
    assert.equal(signed.hashes.sha256, minimalEventSigned.hashes.sha256);
    assert.notEqual(signed.signatures["domain"]!["ed25519:1"], minimalEventSigned.signatures.domain["ed25519:1"]);
    assert.equal(await verifyEventSignature(signed, "domain", "ed25519:1", key.publicKey, version("11")), true);
    // Changing `origin` does not break a v11 signature (it is not covered) but does break v1's.
    assert.equal(
      await verifyEventSignature({ ...signed, origin: "evil" }, "domain", "ed25519:1", key.publicKey, version("11")),
      true,
    );
    const v1Signed = asPdu(minimalEventSigned);
    assert.equal(
      await verifyEventSignature({ ...v1Signed, origin: "evil" }, "domain", "ed25519:1", key.publicKey, version("1")),
      false,
    );
  });
});

describe("content hashes", () => {
  it("ignores unsigned, signatures and existing hashes", () => {
    const base = asPdu(minimalEvent);
    const hash = computeContentHash(base);
    assert.equal(
      computeContentHash({ ...base, unsigned: { x: 1 }, signatures: { a: { b: "c" } }, hashes: { sha256: "zzz" } }),
      hash,
    );
    assert.notEqual(computeContentHash({ ...base, depth: 4 }), hash);
  });

  it("addContentHash and checkContentHash agree", () => {
    const hashed = addContentHash(asPdu(messageEvent));
    assert.equal(checkContentHash(hashed), true);
    assert.equal(checkContentHash({ ...hashed, content: { body: "edited" } }), false);
    // A redacted copy fails the hash check: that is how receivers detect it.
    assert.equal(checkContentHash(redactEvent(hashed, version("10"))), false);
    // Padded encodings of the right hash are accepted.
    assert.equal(checkContentHash({ ...hashed, hashes: { sha256: `${hashed.hashes.sha256}=` } }), true);
    assert.equal(checkContentHash({ ...hashed, hashes: { sha256: "!!" } }), false);
    assert.equal(checkContentHash({ ...hashed, hashes: {} as PDU["hashes"] }), false);
  });

  it("keeps other hash algorithms", () => {
    const hashed = addContentHash({ ...asPdu(minimalEvent), hashes: { sha256: "", sha512: "x" } as PDU["hashes"] });
    assert.deepEqual(hashed.hashes, { sha256: "5jM4wQpv6lnBo7CLIghJuHdW+s2CMBJPUOGOC89ncos", sha512: "x" });
  });

  it("is lenient about large integers for v1-v5 and strict from v6", () => {
    const big = { ...asPdu(minimalEvent), depth: 2 ** 60 };
    assert.equal(typeof computeContentHash(big, version("5")), "string");
    assert.throws(() => computeContentHash(big, version("6")));
    assert.equal(checkContentHash({ ...big, hashes: { sha256: computeContentHash(big, version("5")) } }, version("6")), false);
  });
});

describe("reference hashes", () => {
  it("cover the redacted event: non-essential content and unsigned do not change them", () => {
    const pdu = addContentHash(asPdu(messageEvent));
    for (const roomVersion of ROOM_VERSIONS.values()) {
      const hash = computeReferenceHash(pdu, roomVersion);
      assert.equal(hash.length, 32);
      // Signatures and unsigned data are excluded.
      assert.deepEqual(computeReferenceHash({ ...pdu, signatures: { x: { y: "z" } }, unsigned: { a: 1 } }, roomVersion), hash);
      // Redacting does not change the reference hash.
      assert.deepEqual(computeReferenceHash(redactEvent(pdu, roomVersion), roomVersion), hash);
      // The content hash is covered, so a change in content changes it indirectly.
      assert.notDeepEqual(computeReferenceHash(addContentHash({ ...pdu, content: { body: "x" } }), roomVersion), hash);
    }
  });
});

describe("co-signing", () => {
  it("signEvent adds a second server's signature without touching the hash", async () => {
    const key = await specKey();
    const other = await signingKeyFromSeed("ed25519:k", new Uint8Array(32).fill(7));
    const first = await hashAndSignEvent(asPdu(minimalEvent), "domain", key, version("10"));
    const second = await signEvent(first, "other.example", other, version("10"));
    assert.equal(second.hashes.sha256, first.hashes.sha256);
    assert.deepEqual(Object.keys(second.signatures).sort(), ["domain", "other.example"]);
    assert.equal(await verifyEventSignature(second, "domain", "ed25519:1", key.publicKey, version("10")), true);
    assert.equal(await verifyEventSignature(second, "other.example", "ed25519:k", other.publicKey, version("10")), true);
  });
});
