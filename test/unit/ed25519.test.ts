import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { decodeBase64, encodeBase64 } from "../../src/core/crypto/base64";
import {
  SigningKeyError,
  derivePublicKey,
  encodeSigningKeyFile,
  generateSigningKey,
  keyVersionOf,
  parseSigningKeyFile,
  signBytes,
  signingKeyFromSeed,
  verifyBytes,
} from "../../src/core/crypto/ed25519";

// appendices.md, "Cryptographic Test Vectors > Signing Key".
const SPEC_SEED_BASE64 = "YJDBA9Xnr2sVqXD9Vj7XVUnmFZcZrlw8Md7kMW+3XA1";
const utf8 = (text: string) => new TextEncoder().encode(text);

describe("ed25519 signing keys", () => {
  it("derives the public key of the spec's test seed", async () => {
    const key = await signingKeyFromSeed("ed25519:1", decodeBase64(SPEC_SEED_BASE64));
    // Cross-checked against Node's own key derivation.
    const nodeCrypto = await import("node:crypto");
    const der = Buffer.concat([Buffer.from("302e020100300506032b657004220420", "hex"), Buffer.from(key.seed)]);
    const nodePublic = nodeCrypto
      .createPublicKey(nodeCrypto.createPrivateKey({ key: der, format: "der", type: "pkcs8" }))
      .export({ format: "der", type: "spki" })
      .subarray(-32);
    assert.equal(encodeBase64(key.publicKey), encodeBase64(nodePublic));
    assert.equal(encodeBase64(key.publicKey), "XGX0JRS2Af3be3knz2fBiRbApjm2Dh61gXDJA8kcJNI");
  });

  it("signs deterministically and verifies", async () => {
    const key = await signingKeyFromSeed("ed25519:1", decodeBase64(SPEC_SEED_BASE64));
    const signature = await signBytes(key, utf8("{}"));
    // The signature of "{}" from the JSON signing vector.
    assert.equal(
      encodeBase64(signature),
      "K8280/U9SSy9IVtjBuVeLr+HpOB4BQFWbg+UZaADMtTdGYI7Geitb76LTrr5QV/7Xg4ahLwYGYZzuHGZKM5ZAQ",
    );
    assert.equal(await verifyBytes(key.publicKey, utf8("{}"), signature), true);
    assert.equal(await verifyBytes(key.publicKey, utf8("{ }"), signature), false);
  });

  it("verification returns false for malformed keys and signatures", async () => {
    const key = await generateSigningKey();
    const message = utf8("hello");
    const signature = await signBytes(key, message);
    assert.equal(await verifyBytes(key.publicKey.subarray(1), message, signature), false);
    assert.equal(await verifyBytes(key.publicKey, message, signature.subarray(1)), false);
    const tampered = new Uint8Array(signature);
    tampered[0]! ^= 1;
    assert.equal(await verifyBytes(key.publicKey, message, tampered), false);
    const other = await generateSigningKey();
    assert.equal(await verifyBytes(other.publicKey, message, signature), false);
  });

  it("generates random keys with a valid key ID", async () => {
    const a = await generateSigningKey();
    const b = await generateSigningKey("custom_1");
    assert.match(a.keyId, /^ed25519:a_[A-Za-z0-9]{4}$/);
    assert.equal(b.keyId, "ed25519:custom_1");
    assert.equal(a.seed.length, 32);
    assert.equal(a.publicKey.length, 32);
    assert.notDeepEqual(a.seed, b.seed);
    assert.deepEqual(await derivePublicKey(a.seed), a.publicKey);
    await assert.rejects(generateSigningKey("bad version"), SigningKeyError);
  });

  it("rejects seeds of the wrong length", async () => {
    await assert.rejects(signingKeyFromSeed("ed25519:1", new Uint8Array(31)), SigningKeyError);
  });

  it("round-trips the Synapse signing key file format", async () => {
    const key = await signingKeyFromSeed("ed25519:a_AbCd", decodeBase64(SPEC_SEED_BASE64));
    const file = encodeSigningKeyFile(key);
    assert.equal(file, `ed25519 a_AbCd ${encodeBase64(key.seed)}\n`);
    const [parsed, ...rest] = await parseSigningKeyFile(file);
    assert.equal(rest.length, 0);
    assert.equal(parsed!.keyId, "ed25519:a_AbCd");
    assert.deepEqual(parsed!.seed, key.seed);
    assert.deepEqual(parsed!.publicKey, key.publicKey);
    assert.equal(keyVersionOf(parsed!.keyId), "a_AbCd");
  });

  it("parses several keys, blank lines and padded seeds", async () => {
    const keys = await parseSigningKeyFile(`\ned25519 one ${SPEC_SEED_BASE64}=\r\n\ned25519 two ${SPEC_SEED_BASE64}\n`);
    assert.deepEqual(
      keys.map((key) => key.keyId),
      ["ed25519:one", "ed25519:two"],
    );
  });

  it("rejects malformed key files", async () => {
    await assert.rejects(parseSigningKeyFile("ed25519 a_b"), SigningKeyError);
    await assert.rejects(parseSigningKeyFile(`rsa a_b ${SPEC_SEED_BASE64}`), SigningKeyError);
    await assert.rejects(parseSigningKeyFile("ed25519 a_b Zm9v"), SigningKeyError);
    await assert.rejects(parseSigningKeyFile("ed25519 a_b !!!"), SigningKeyError);
  });
});
