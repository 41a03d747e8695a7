import assert from "node:assert/strict";
import { describe, it } from "node:test";
import {
  CanonicalJsonError,
  canonicalJsonBytes,
  compareCodePoints,
  encodeCanonicalJson,
} from "../../src/core/canonical-json";

describe("canonical JSON: spec test vectors (appendices, Canonical JSON > Examples)", () => {
  // Inputs are given as JSON text, exactly as in the spec, and parsed with JSON.parse.
  const vectors: Array<[input: string, expected: string]> = [
    ["{}", "{}"],
    ['{\n    "one": 1,\n    "two": "Two"\n}', '{"one":1,"two":"Two"}'],
    ['{\n    "b": "2",\n    "a": "1"\n}', '{"a":"1","b":"2"}'],
    ['{"b":"2","a":"1"}', '{"a":"1","b":"2"}'],
    [
      `{
    "auth": {
        "success": true,
        "mxid": "@john.doe:example.com",
        "profile": {
            "display_name": "John Doe",
            "three_pids": [
                {
                    "medium": "email",
                    "address": "john.doe@example.org"
                },
                {
                    "medium": "msisdn",
                    "address": "123456789"
                }
            ]
        }
    }
}`,
      '{"auth":{"mxid":"@john.doe:example.com","profile":{"display_name":"John Doe","three_pids":[{"address":"john.doe@example.org","medium":"email"},{"address":"123456789","medium":"msisdn"}]},"success":true}}',
    ],
    ['{\n    "a": "日本語"\n}', '{"a":"日本語"}'],
    ['{\n    "本": 2,\n    "日": 1\n}', '{"日":1,"本":2}'],
    ['{\n    "a": "\\u65E5"\n}', '{"a":"日"}'],
    ['{\n    "a": null\n}', '{"a":null}'],
    ['{\n    "a": -0,\n    "b": 1e10\n}', '{"a":0,"b":10000000000}'],
  ];
  for (const [input, expected] of vectors) {
    it(`${JSON.stringify(input)} -> ${expected}`, () => {
      assert.equal(encodeCanonicalJson(JSON.parse(input)), expected);
    });
  }

  it("produces UTF-8 bytes", () => {
    assert.deepEqual([...canonicalJsonBytes({ a: "日" })], [...Buffer.from('{"a":"日"}', "utf8")]);
  });
});

describe("canonical JSON: string escaping", () => {
  it("uses short escapes for \\b \\f \\n \\r \\t and lowercase \\u00xx for other controls", () => {
    assert.equal(encodeCanonicalJson("\b\f\n\r\t"), '"\\b\\f\\n\\r\\t"');
    assert.equal(encodeCanonicalJson("\u0000\u0001\u001f\u000b\u001a"), '"\\u0000\\u0001\\u001f\\u000b\\u001a"');
  });
  it("escapes only quote and backslash among printable characters", () => {
    assert.equal(encodeCanonicalJson('"\\/<>&\''), '"\\"\\\\/<>&\'"');
  });
  it("writes DEL, U+2028/9 and astral characters unescaped", () => {
    assert.equal(encodeCanonicalJson("\u007f\u2028\u2029😀"), '"\u007f\u2028\u2029😀"');
    assert.deepEqual([...canonicalJsonBytes("😀")], [0x22, 0xf0, 0x9f, 0x98, 0x80, 0x22]);
  });
  it("rejects lone surrogates, which have no UTF-8 encoding", () => {
    assert.throws(() => encodeCanonicalJson("\ud800"), CanonicalJsonError);
    assert.throws(() => encodeCanonicalJson({ "\udc00": 1 }), CanonicalJsonError);
  });
});

describe("canonical JSON: key order is by code point", () => {
  it("sorts an astral key after a BMP key above U+E000 (UTF-16 order would not)", () => {
    const value = { "\u{10000}": 1, "\uffff": 2, "\ue000": 3, a: 4 };
    assert.equal(encodeCanonicalJson(value), '{"a":4,"\ue000":3,"\uffff":2,"\u{10000}":1}');
    // Sanity: the default JS sort would have put the astral key first among these.
    assert.deepEqual(["\uffff", "\u{10000}"].sort(), ["\u{10000}", "\uffff"]);
  });
  it("orders prefixes first and compares case-sensitively", () => {
    assert.equal(encodeCanonicalJson({ ab: 1, a: 2, B: 3, b: 4 }), '{"B":3,"a":2,"ab":1,"b":4}');
  });
  it("compareCodePoints agrees with code point comparison", () => {
    const strings = ["\u{1F600}", "\uffff", "\ue000", "\ud7ff", "z", "", "\u{10000}a", "\u{10000}"];
    const byCodePoints = (a: string, b: string) => {
      const x = [...a].map((c) => c.codePointAt(0)!);
      const y = [...b].map((c) => c.codePointAt(0)!);
      for (let i = 0; i < Math.min(x.length, y.length); i++) if (x[i] !== y[i]) return x[i]! - y[i]!;
      return x.length - y.length;
    };
    for (const a of strings) for (const b of strings) {
      assert.equal(Math.sign(compareCodePoints(a, b)), Math.sign(byCodePoints(a, b)), `${a} vs ${b}`);
    }
  });
});

describe("canonical JSON: numbers", () => {
  it("rejects non-integers, NaN and infinities in both modes", () => {
    for (const strict of [true, false]) {
      for (const bad of [1.5, -0.1, NaN, Infinity, -Infinity]) {
        assert.throws(() => encodeCanonicalJson({ n: bad }, { strict }), CanonicalJsonError);
      }
    }
  });
  it("accepts the boundaries of the safe range", () => {
    assert.equal(encodeCanonicalJson([2 ** 53 - 1, -(2 ** 53) + 1]), "[9007199254740991,-9007199254740991]");
  });
  it("strict mode (the default) rejects integers outside [-(2^53)+1, 2^53-1]", () => {
    assert.throws(() => encodeCanonicalJson(2 ** 53), CanonicalJsonError);
    assert.throws(() => encodeCanonicalJson(-(2 ** 53)), CanonicalJsonError);
    assert.throws(() => encodeCanonicalJson(2n ** 53n), CanonicalJsonError);
  });
  it("non-strict mode writes large integers in full, without exponent", () => {
    assert.equal(encodeCanonicalJson(2 ** 53, { strict: false }), "9007199254740992");
    assert.equal(encodeCanonicalJson(1e21, { strict: false }), "1000000000000000000000");
    assert.equal(encodeCanonicalJson(-(2n ** 63n), { strict: false }), "-9223372036854775808");
  });
  it("writes -0 as 0", () => {
    assert.equal(encodeCanonicalJson(-0), "0");
  });
});

describe("canonical JSON: other values", () => {
  it("encodes nested arrays and literals without whitespace", () => {
    assert.equal(encodeCanonicalJson({ a: [true, false, null, [], {}], b: "" }), '{"a":[true,false,null,[],{}],"b":""}');
  });
  it("omits object keys whose value is undefined", () => {
    assert.equal(encodeCanonicalJson({ a: undefined, b: 1 }), '{"b":1}');
  });
  it("rejects undefined in arrays, functions, symbols and non-plain objects", () => {
    assert.throws(() => encodeCanonicalJson([undefined]), CanonicalJsonError);
    assert.throws(() => encodeCanonicalJson(undefined), CanonicalJsonError);
    assert.throws(() => encodeCanonicalJson({ f: () => 1 }), CanonicalJsonError);
    assert.throws(() => encodeCanonicalJson({ s: Symbol("x") }), CanonicalJsonError);
    assert.throws(() => encodeCanonicalJson({ d: new Date(0) }), CanonicalJsonError);
    assert.throws(() => encodeCanonicalJson(new Map()), CanonicalJsonError);
  });
  it("accepts null-prototype objects", () => {
    const value = Object.create(null) as Record<string, unknown>;
    value["x"] = 1;
    assert.equal(encodeCanonicalJson(value), '{"x":1}');
  });
  it("reports where the bad value is", () => {
    assert.throws(
      () => encodeCanonicalJson({ content: { list: [1, 2.5] } }),
      (error: unknown) => error instanceof CanonicalJsonError && error.path === "/content/list/1",
    );
  });
});
