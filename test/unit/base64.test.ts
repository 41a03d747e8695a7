import assert from "node:assert/strict";
import { describe, it } from "node:test";
import {
  Base64Error,
  decodeBase64,
  decodeBase64Url,
  encodeBase64,
  encodeBase64Url,
  tryDecodeBase64,
} from "../../src/core/crypto/base64";

const utf8 = (text: string) => new TextEncoder().encode(text);

describe("unpadded base64", () => {
  // The examples in appendices.md, "Unpadded Base64".
  const vectors: Array<[string, string]> = [
    ["", ""],
    ["f", "Zg"],
    ["fo", "Zm8"],
    ["foo", "Zm9v"],
    ["foob", "Zm9vYg"],
    ["fooba", "Zm9vYmE"],
    ["foobar", "Zm9vYmFy"],
  ];
  for (const [plain, encoded] of vectors) {
    it(`UNPADDED_BASE64(${JSON.stringify(plain)}) = ${JSON.stringify(encoded)}`, () => {
      assert.equal(encodeBase64(utf8(plain)), encoded);
      assert.deepEqual(decodeBase64(encoded), utf8(plain));
    });
  }

  it("accepts padded input when decoding", () => {
    assert.deepEqual(decodeBase64("Zg=="), utf8("f"));
    assert.deepEqual(decodeBase64("Zm8="), utf8("fo"));
    assert.deepEqual(decodeBase64Url("Zg=="), utf8("f"));
  });

  it("matches Node's encoder on random data, both alphabets", () => {
    for (let length = 0; length < 70; length++) {
      const bytes = crypto.getRandomValues(new Uint8Array(length));
      const node = Buffer.from(bytes);
      assert.equal(encodeBase64(bytes), node.toString("base64").replace(/=+$/, ""));
      assert.equal(encodeBase64Url(bytes), node.toString("base64url"));
      assert.deepEqual(decodeBase64(encodeBase64(bytes)), bytes);
      assert.deepEqual(decodeBase64Url(encodeBase64Url(bytes)), bytes);
    }
  });

  it("uses - and _ only in the URL-safe alphabet", () => {
    const bytes = new Uint8Array([0xfb, 0xff, 0xbf]);
    assert.equal(encodeBase64(bytes), "+/+/");
    assert.equal(encodeBase64Url(bytes), "-_-_");
    assert.throws(() => decodeBase64("-_-_"), Base64Error);
    assert.throws(() => decodeBase64Url("+/+/"), Base64Error);
  });

  it("ignores non-zero trailing bits (the spec's signing seed has them)", () => {
    assert.equal(decodeBase64("YJDBA9Xnr2sVqXD9Vj7XVUnmFZcZrlw8Md7kMW+3XA1").length, 32);
    assert.deepEqual(decodeBase64("Zh"), utf8("f"));
  });

  it("rejects malformed input", () => {
    assert.throws(() => decodeBase64("Z"), Base64Error);
    assert.throws(() => decodeBase64("Zm9v!"), Base64Error);
    assert.throws(() => decodeBase64("Zg="), Base64Error); // padding that does not complete a quantum
    assert.throws(() => decodeBase64("Z==="), Base64Error);
    assert.throws(() => decodeBase64("Zm 9v"), Base64Error);
    assert.throws(() => decodeBase64("Zm9vé"), Base64Error);
    assert.equal(tryDecodeBase64("!!"), null);
  });
});
