import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { decodeBase64 } from "../../src/core/crypto/base64";
import { signingKeyFromSeed, type SigningKey } from "../../src/core/crypto/ed25519";
import { getSignature, signJson, verifyJsonSignature } from "../../src/core/crypto/signing";

// appendices.md, "Cryptographic Test Vectors".
const SERVER_NAME = "domain";
const KEY_ID = "ed25519:1";
const specKey = (): Promise<SigningKey> =>
  signingKeyFromSeed(KEY_ID, decodeBase64("YJDBA9Xnr2sVqXD9Vj7XVUnmFZcZrlw8Md7kMW+3XA1"));

describe("JSON signing: spec test vectors", () => {
  it("signs {}", async () => {
    const signed = await signJson({}, SERVER_NAME, await specKey());
    assert.deepEqual(signed, {
      signatures: {
        domain: {
          "ed25519:1": "K8280/U9SSy9IVtjBuVeLr+HpOB4BQFWbg+UZaADMtTdGYI7Geitb76LTrr5QV/7Xg4ahLwYGYZzuHGZKM5ZAQ",
        },
      },
    });
  });

  it("signs an object with data values", async () => {
    const signed = await signJson({ one: 1, two: "Two" }, SERVER_NAME, await specKey());
    assert.deepEqual(signed, {
      one: 1,
      signatures: {
        domain: {
          "ed25519:1": "KqmLSbO39/Bzb0QIYE82zqLwsA+PDzYIpIRA2sRQ4sL53+sN6/fpNSoqE7BP7vBZhG6kYdD13EIMJpvhJI+6Bw",
        },
      },
      two: "Two",
    });
  });
});

describe("JSON signing: behaviour", () => {
  it("does not cover unsigned or existing signatures, and keeps both", async () => {
    const key = await specKey();
    const input = {
      one: 1,
      two: "Two",
      unsigned: { age_ts: 5 },
      signatures: { other: { "ed25519:x": "abc" }, domain: { "ed25519:old": "def" } },
    };
    const signed = await signJson(input, SERVER_NAME, key);
    assert.equal(
      getSignature(signed, "domain", "ed25519:1"),
      "KqmLSbO39/Bzb0QIYE82zqLwsA+PDzYIpIRA2sRQ4sL53+sN6/fpNSoqE7BP7vBZhG6kYdD13EIMJpvhJI+6Bw",
    );
    assert.deepEqual(signed.unsigned, { age_ts: 5 });
    assert.deepEqual(signed.signatures, {
      other: { "ed25519:x": "abc" },
      domain: { "ed25519:old": "def", "ed25519:1": getSignature(signed, "domain", "ed25519:1") },
    });
    // The input is not modified.
    assert.deepEqual(input.signatures, { other: { "ed25519:x": "abc" }, domain: { "ed25519:old": "def" } });
  });

  it("verifies its own signatures and rejects tampering", async () => {
    const key = await specKey();
    const signed = await signJson({ one: 1, two: "Two", unsigned: { a: 1 } }, SERVER_NAME, key);
    assert.equal(await verifyJsonSignature(signed, SERVER_NAME, KEY_ID, key.publicKey), true);
    // unsigned may change in transit.
    assert.equal(await verifyJsonSignature({ ...signed, unsigned: { b: 2 } }, SERVER_NAME, KEY_ID, key.publicKey), true);
    assert.equal(await verifyJsonSignature({ ...signed, two: "three" }, SERVER_NAME, KEY_ID, key.publicKey), false);
    assert.equal(await verifyJsonSignature(signed, "elsewhere", KEY_ID, key.publicKey), false);
    assert.equal(await verifyJsonSignature(signed, SERVER_NAME, "ed25519:2", key.publicKey), false);
  });

  it("returns false for undecodable signatures and unencodable objects", async () => {
    const key = await specKey();
    const badSignature = { signatures: { domain: { "ed25519:1": "not base64!" } } };
    assert.equal(await verifyJsonSignature(badSignature, SERVER_NAME, KEY_ID, key.publicKey), false);
    const signed = await signJson({ n: 1 }, SERVER_NAME, key);
    assert.equal(await verifyJsonSignature({ ...signed, n: 1.5 }, SERVER_NAME, KEY_ID, key.publicKey), false);
  });

  it("applies canonical JSON strictness only when asked", async () => {
    const key = await specKey();
    await assert.rejects(signJson({ n: 2 ** 60 }, SERVER_NAME, key));
    const signed = await signJson({ n: 2 ** 60 }, SERVER_NAME, key, { strict: false });
    assert.equal(await verifyJsonSignature(signed, SERVER_NAME, KEY_ID, key.publicKey, { strict: false }), true);
    assert.equal(await verifyJsonSignature(signed, SERVER_NAME, KEY_ID, key.publicKey), false);
  });
});
