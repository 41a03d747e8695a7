import assert from "node:assert/strict";
import { describe, it } from "node:test";
import {
  eventIdServerName,
  isCompliantUserId,
  isStrictUserId,
  isValidEventId,
  isValidIpv6,
  isValidLocalpart,
  isValidRoomAlias,
  isValidRoomId,
  isValidServerName,
  isValidUserId,
  parseRoomAlias,
  parseRoomId,
  parseServerName,
  parseUserId,
  serverNameOf,
} from "../../src/core/identifiers";
import { getRoomVersion, type RoomVersion } from "../../src/core/room-versions";

const version = (id: string): RoomVersion => getRoomVersion(id)!;

describe("server names", () => {
  it("accepts the spec's examples", () => {
    assert.deepEqual(parseServerName("matrix.org"), { host: "matrix.org", kind: "dns" });
    assert.deepEqual(parseServerName("matrix.org:8888"), { host: "matrix.org", port: 8888, kind: "dns" });
    assert.deepEqual(parseServerName("1.2.3.4"), { host: "1.2.3.4", kind: "ipv4" });
    assert.deepEqual(parseServerName("1.2.3.4:1234"), { host: "1.2.3.4", port: 1234, kind: "ipv4" });
    assert.deepEqual(parseServerName("[1234:5678::abcd]"), { host: "[1234:5678::abcd]", kind: "ipv6" });
    assert.deepEqual(parseServerName("[1234:5678::abcd]:5678"), { host: "[1234:5678::abcd]", port: 5678, kind: "ipv6" });
  });

  it("accepts other valid forms", () => {
    for (const name of ["localhost", "LOCALHOST", "a-b.c", "xn--bcher-kva.example", "[::1]", "[::ffff:1.2.3.4]:80", "[2001:db8:0:0:0:0:2:1]", "a:0", "a:99999", "255.255.255.255"]) {
      assert.ok(isValidServerName(name), name);
    }
  });

  it("rejects invalid forms", () => {
    for (const name of [
      "",
      ":8080",
      "matrix.org:",
      "matrix.org:123456",
      "matrix.org:80a",
      "matrix.org:-1",
      "under_score.org",
      "space .org",
      "ünicode.org",
      "1.2.3.256",
      "[1234:5678::abcd",
      "[1234:5678::abcd]x",
      "[1234:5678::abcd]:",
      "[]",
      "[g::1]",
      "[1::2::3]",
      "[1:2:3:4:5:6:7:8:9]",
      "1234:5678::abcd",
      "a".repeat(256),
    ]) {
      assert.equal(isValidServerName(name), false, name);
    }
  });

  it("validates IPv6 text forms", () => {
    for (const ok of ["::", "::1", "1::", "1:2:3:4:5:6:7:8", "1:2:3:4:5:6::8", "::1.2.3.4", "1:2:3:4:5:6:1.2.3.4", "FEDC:BA98::7654:3210"]) {
      assert.ok(isValidIpv6(ok), ok);
    }
    for (const bad of ["1", ":", "1:2:3:4:5:6:7", "1:2:3:4:5:6:7:8:9", ":::", "1:::2", "12345::", "::1.2.3", "1.2.3.4", "1:2:3:4:5:6:7:1.2.3.4"]) {
      assert.equal(isValidIpv6(bad), false, bad);
    }
  });
});

describe("user IDs", () => {
  it("parses at the first colon (server names may contain colons)", () => {
    assert.deepEqual(parseUserId("@alice:example.org:8448"), { localpart: "alice", serverName: "example.org:8448" });
    assert.deepEqual(parseUserId("@alice:[::1]:8448"), { localpart: "alice", serverName: "[::1]:8448" });
    assert.equal(serverNameOf("@alice:example.org"), "example.org");
  });

  it("accepts the current grammar everywhere", () => {
    const id = "@a-z0.9_=/+:example.org";
    assert.ok(isValidUserId(id) && isCompliantUserId(id) && isStrictUserId(id));
  });

  it("accepts historical user IDs over federation but distinguishes them", () => {
    // Upper case and other printable ASCII: historical, compliant, not current grammar.
    for (const id of ["@Alice:example.org", "@a!b:example.org", "@a#b:example.org"]) {
      assert.ok(isValidUserId(id), id);
      assert.ok(isCompliantUserId(id), id);
      assert.equal(isStrictUserId(id), false, id);
    }
    // Empty, non-ASCII, spaces and control characters: must be accepted, but non-compliant.
    for (const id of ["@:example.org", "@ünïcode:example.org", "@a b:example.org", "@a\u0001b:example.org", "@😀:example.org"]) {
      assert.ok(isValidUserId(id), id);
      assert.equal(isCompliantUserId(id), false, id);
      assert.equal(isStrictUserId(id), false, id);
    }
  });

  it("rejects what even the historical grammar forbids", () => {
    for (const id of [
      "alice:example.org",
      "@alice",
      "@alice:",
      "@a\u0000b:example.org",
      "@a\ud800:example.org",
      "@alice:bad_server",
      "#alice:example.org",
    ]) {
      assert.equal(isValidUserId(id), false, JSON.stringify(id));
    }
  });

  it("limits user IDs to 255 bytes, counting UTF-8", () => {
    const server = ":example.org";
    const fits = `@${"a".repeat(255 - 1 - server.length)}${server}`;
    assert.equal(fits.length, 255);
    assert.ok(isValidUserId(fits) && isStrictUserId(fits));
    assert.equal(isValidUserId(`@${"a".repeat(255 - server.length)}${server}`), false);
    const multibyte = `@${"a".repeat(255 - 2 - server.length)}é${server}`; // 255 chars, 256 bytes
    assert.equal(multibyte.length, 255);
    assert.equal(isValidUserId(multibyte), false);
  });

  it("isValidLocalpart allows only a-z 0-9 . _ = - / + for new accounts", () => {
    for (const ok of ["alice", "a.b_c=d-e/f+g", "0", "..."]) assert.ok(isValidLocalpart(ok), ok);
    for (const bad of ["", "Alice", "a b", "a:b", "a#b", "ü", "a*b", "a@b"]) assert.equal(isValidLocalpart(bad), false, bad);
    assert.ok(isValidLocalpart("a".repeat(200), "example.org"));
    assert.equal(isValidLocalpart("a".repeat(250), "example.org"), false);
  });
});

describe("room IDs", () => {
  const hashId = "!hHxmArZogyxfywjX4jOmodq5sXclQs6Jmczyl3IfoJM";

  it("parses !opaque:server for room versions before 12", () => {
    assert.deepEqual(parseRoomId("!abc:example.org"), { opaqueId: "abc", serverName: "example.org" });
    assert.deepEqual(parseRoomId("!abc:example.org:8448", version("11")), { opaqueId: "abc", serverName: "example.org:8448" });
    assert.ok(isValidRoomId("!ünïcode ok:example.org", version("1")));
    assert.equal(isValidRoomId("!abc", version("11")), false);
    assert.equal(isValidRoomId(hashId, version("11")), false);
    assert.equal(isValidRoomId("!a\u0000b:example.org"), false);
    assert.equal(isValidRoomId("abc:example.org"), false);
    assert.equal(isValidRoomId(`!${"a".repeat(243)}:example.org`), false); // 256 bytes
  });

  it("parses v12 hash room IDs without a server", () => {
    assert.deepEqual(parseRoomId(hashId, version("12")), { opaqueId: hashId.slice(1) });
    assert.deepEqual(parseRoomId(hashId), { opaqueId: hashId.slice(1) });
    assert.equal(isValidRoomId("!abc:example.org", version("12")), false);
    assert.equal(isValidRoomId("!hHxmArZogyxfywjX4jOmodq5sXclQs6Jmczyl3IfoJ", version("12")), false); // 42 chars
    assert.equal(isValidRoomId("!hHxmArZogyxfywjX4jOmodq5sXclQs6Jmczyl3Ifo+M", version("12")), false); // not URL-safe
  });
});

describe("room aliases", () => {
  it("parses #alias:server", () => {
    assert.deepEqual(parseRoomAlias("#room:example.org"), { localpart: "room", serverName: "example.org" });
    assert.ok(isValidRoomAlias("#Ünïcode room!:example.org:8448"));
  });
  it("rejects malformed aliases", () => {
    for (const alias of ["room:example.org", "#room", "#room:", "#a\u0000:example.org", "!room:example.org", `#${"a".repeat(243)}:example.org`]) {
      assert.equal(isValidRoomAlias(alias), false, JSON.stringify(alias));
    }
    assert.ok(isValidRoomAlias(`#${"a".repeat(242)}:example.org`));
  });
});

describe("event IDs", () => {
  it("v1/v2: $opaque:server", () => {
    assert.ok(isValidEventId("$abc123:example.org", version("1")));
    assert.ok(isValidEventId("$abc123:example.org:8448", version("2")));
    assert.equal(isValidEventId("$abc123", version("1")), false);
    assert.equal(isValidEventId("$:example.org", version("1")), false);
    assert.equal(eventIdServerName("$abc:example.org:8448"), "example.org:8448");
    assert.equal(eventIdServerName("$9edtFGVn2BcmsfZqMdbzx9g8bnE6HUN_kcDdngro1tQ"), null);
  });
  it("v3: $ + standard base64 hash", () => {
    assert.ok(isValidEventId("$9edtFGVn2BcmsfZqMdbzx9g8bnE6HUN/kcDdngro1tQ", version("3")));
    assert.equal(isValidEventId("$9edtFGVn2BcmsfZqMdbzx9g8bnE6HUN_kcDdngro1tQ", version("3")), false);
    assert.equal(isValidEventId("$abc:example.org", version("3")), false);
  });
  it("v4+: $ + URL-safe base64 hash", () => {
    assert.ok(isValidEventId("$Rqnc-F-dvnEYJTyHq_iKxU2bZ1CI92-kuZq3a5lr5Zg", version("4"))); // the spec's example
    assert.ok(isValidEventId("$Rqnc-F-dvnEYJTyHq_iKxU2bZ1CI92-kuZq3a5lr5Zg", version("12")));
    assert.equal(isValidEventId("$9edtFGVn2BcmsfZqMdbzx9g8bnE6HUN/kcDdngro1tQ", version("4")), false);
    assert.equal(isValidEventId("$Rqnc-F-dvnEYJTyHq_iKxU2bZ1CI92-kuZq3a5lr5Z", version("10")), false);
  });
  it("without a version: $, non-empty, no NUL, at most 255 bytes", () => {
    assert.ok(isValidEventId("$anything at all:really"));
    assert.equal(isValidEventId("$"), false);
    assert.equal(isValidEventId("abc"), false);
    assert.equal(isValidEventId("$a\u0000"), false);
    assert.ok(isValidEventId(`$${"a".repeat(254)}`));
    assert.equal(isValidEventId(`$${"a".repeat(255)}`), false);
  });
});
