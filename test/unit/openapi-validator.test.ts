import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  SPEC_ROOT,
  assertMatchesSpec,
  getResponseExamples,
  matchOperation,
  preloadSpec,
  validateAgainstSchema,
  validateResponse,
} from "../support/openapi";

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

/** First documented example of a response, as an object. */
function example(method: string, path: string, status = 200): Record<string, unknown> {
  const examples = getResponseExamples({ method, path, status });
  const first = examples[0];
  assert.ok(isRecord(first), `expected an object example for ${method} ${path} ${status}`);
  return structuredClone(first);
}

describe("openapi validator: loading", () => {
  it("finds the spec relative to the repo and indexes operations quickly", () => {
    const t0 = performance.now();
    const n = preloadSpec();
    const ms = performance.now() - t0;
    if (process.env["MATRIX_SPEC_DIR"] === undefined) {
      assert.ok(SPEC_ROOT.endsWith(join("shared", "matrix-spec")), SPEC_ROOT);
    }
    assert.ok(n > 150, `expected many operations, got ${n}`);
    assert.ok(ms < 3000, `loading took ${ms.toFixed(0)}ms`);
  });
});

describe("openapi validator: the spec's own examples pass", () => {
  const cases: Array<[string, string, string]> = [
    ["versions.yaml", "GET", "/_matrix/client/versions"],
    ["login.yaml", "GET", "/_matrix/client/v3/login"],
    ["login.yaml", "POST", "/_matrix/client/v3/login"],
    ["registration.yaml", "POST", "/_matrix/client/v3/register"],
    ["registration.yaml", "GET", "/_matrix/client/v3/register/available"],
    ["device_management.yaml", "GET", "/_matrix/client/v3/devices"],
    ["device_management.yaml", "GET", "/_matrix/client/v3/devices/{deviceId}"],
    ["sync.yaml", "GET", "/_matrix/client/v3/sync"],
    ["whoami.yaml", "GET", "/_matrix/client/v3/account/whoami"],
  ];
  for (const [file, method, path] of cases) {
    it(`${file}: ${method} ${path} 200`, () => {
      const examples = getResponseExamples({ method, path, status: 200 });
      assert.ok(examples.length > 0, "no examples found");
      for (const body of examples) {
        assert.deepEqual(validateResponse({ method, path, status: 200, body }), []);
        assertMatchesSpec({ method, path, status: 200, body });
      }
    });
  }

  it("sync example has its example $refs resolved (presence event from event-schemas/examples)", () => {
    const body = example("GET", "/_matrix/client/v3/sync");
    const presence = body["presence"];
    assert.ok(isRecord(presence) && Array.isArray(presence["events"]));
    const ev: unknown = presence["events"][0];
    assert.ok(isRecord(ev));
    assert.equal(ev["type"], "m.presence");
    assert.equal(ev["$ref"], undefined);
  });
});

describe("openapi validator: broken bodies fail with useful messages", () => {
  it("/versions with versions: 5", () => {
    const errors = validateResponse({
      method: "GET",
      path: "/_matrix/client/versions",
      status: 200,
      body: { versions: 5 },
    });
    assert.equal(errors.length, 1);
    assert.match(errors[0] ?? "", /GET \/_matrix\/client\/versions 200: \/versions must be array \(got 5\)/);
  });

  it("/login missing user_id", () => {
    const body = example("POST", "/_matrix/client/v3/login");
    delete body["user_id"];
    const errors = validateResponse({ method: "POST", path: "/_matrix/client/v3/login", status: 200, body });
    assert.deepEqual(errors, ["POST /_matrix/client/v3/login 200: (root) must have required property 'user_id'"]);
  });

  it("/login with a non-string device_id", () => {
    const body = { ...example("POST", "/_matrix/client/v3/login"), device_id: 42 };
    const errors = validateResponse({ method: "POST", path: "/_matrix/client/v3/login", status: 200, body });
    assert.equal(errors.length, 1);
    assert.match(errors[0] ?? "", /\/device_id must be string \(got 42\)/);
  });

  it("nested errors in /sync are all reported (allErrors)", () => {
    const body = example("GET", "/_matrix/client/v3/sync");
    body["next_batch"] = 1;
    body["presence"] = { events: [{ type: 7 }] };
    const errors = validateResponse({ method: "GET", path: "/_matrix/client/v3/sync", status: 200, body });
    assert.ok(errors.some((e) => e.includes("/next_batch must be string")), errors.join("\n"));
    assert.ok(errors.some((e) => e.includes("/presence/events/0/type must be string")), errors.join("\n"));
  });

  it("extra properties are allowed where the spec allows them", () => {
    const body = { ...example("POST", "/_matrix/client/v3/login"), "org.example.extra": true };
    assert.deepEqual(validateResponse({ method: "POST", path: "/_matrix/client/v3/login", status: 200, body }), []);
  });

  it("error responses are validated against the error schema", () => {
    const path = "/_matrix/client/v3/login";
    const ok = { errcode: "M_FORBIDDEN", error: "Invalid password" };
    assert.deepEqual(validateResponse({ method: "POST", path, status: 403, body: ok }), []);
    const errors = validateResponse({ method: "POST", path, status: 403, body: { error: "x" } });
    assert.match(errors.join("\n"), /must have required property 'errcode'/);
  });

  it("undocumented status codes are reported", () => {
    const errors = validateResponse({ method: "GET", path: "/_matrix/client/versions", status: 418, body: {} });
    assert.equal(errors.length, 1);
    assert.match(errors[0] ?? "", /^status 418 not documented for GET \/_matrix\/client\/versions \(documented: 200\)/);
  });

  it("unknown paths and methods are reported", () => {
    assert.match(
      validateResponse({ method: "GET", path: "/_matrix/client/v3/no/such/endpoint", status: 200, body: {} })[0] ?? "",
      /no client-server OpenAPI path matches GET \/_matrix\/client\/v3\/no\/such\/endpoint/,
    );
    assert.match(
      validateResponse({ method: "DELETE", path: "/_matrix/client/versions", status: 200, body: {} })[0] ?? "",
      /method DELETE not documented for \/_matrix\/client\/versions \(documented: GET\)/,
    );
  });

  it("assertMatchesSpec throws an AssertionError listing the errors", () => {
    assert.throws(
      () => assertMatchesSpec({ method: "GET", path: "/_matrix/client/versions", status: 200, body: { versions: 5 } }),
      (err: unknown) => {
        assert.ok(err instanceof assert.AssertionError);
        assert.match(err.message, /does not match the Matrix spec/);
        assert.match(err.message, /\/versions must be array/);
        return true;
      },
    );
  });
});

describe("openapi validator: path matching", () => {
  it("matches a URL-encoded path segment", () => {
    const path = "/_matrix/client/v3/devices/ABC%2FDEF";
    const op = matchOperation({ method: "GET", path });
    assert.ok(op);
    assert.equal(op.fullTemplate, "/_matrix/client/v3/devices/{deviceId}");
    assert.deepEqual(op.params, { deviceId: "ABC/DEF" });
    const body = { ...example("GET", "/_matrix/client/v3/devices/{deviceId}"), device_id: "ABC/DEF" };
    assert.deepEqual(validateResponse({ method: "GET", path, status: 200, body }), []);
    assert.match(
      validateResponse({ method: "GET", path, status: 200, body: { device_id: 1 } }).join("\n"),
      /\/device_id must be string/,
    );
  });

  it("maps r0 onto v3", () => {
    const path = "/_matrix/client/r0/account/whoami";
    const op = matchOperation({ method: "GET", path });
    assert.ok(op);
    assert.equal(op.fullTemplate, "/_matrix/client/v3/account/whoami");
    assert.deepEqual(validateResponse({ method: "GET", path, status: 200, body: { user_id: "@alice:example.org" } }), []);
    assert.match(
      validateResponse({ method: "GET", path, status: 200, body: {} }).join("\n"),
      /must have required property 'user_id'/,
    );
  });

  it("handles query strings, full URLs, v1 client, media and federation bases", () => {
    assert.equal(
      matchOperation({ method: "GET", path: "https://hs.example/_matrix/client/v3/sync?since=s1&timeout=0" })
        ?.fullTemplate,
      "/_matrix/client/v3/sync",
    );
    assert.equal(
      matchOperation({ method: "GET", path: "/_matrix/client/v1/media/config" })?.fullTemplate,
      "/_matrix/client/v1/media/config",
    );
    assert.equal(matchOperation({ method: "GET", path: "/_matrix/media/v3/config" })?.fullTemplate, "/_matrix/media/v3/config");
    assert.equal(matchOperation({ method: "GET", path: "/_matrix/media/r0/config" })?.fullTemplate, "/_matrix/media/v3/config");
    const fed = matchOperation({ method: "PUT", path: "/_matrix/federation/v1/send/txn1" });
    assert.equal(fed?.api, "server-server");
    assert.equal(fed?.fullTemplate, "/_matrix/federation/v1/send/{txnId}");
  });

  it("prefers literal segments over parameters and supports empty state keys", () => {
    const send = matchOperation({ method: "PUT", path: "/_matrix/client/v3/rooms/!r%3Aexample.org/send/m.room.message/t1" });
    assert.equal(send?.fullTemplate, "/_matrix/client/v3/rooms/{roomId}/send/{eventType}/{txnId}");
    assert.equal(send?.params["roomId"], "!r:example.org");
    const state = matchOperation({ method: "GET", path: "/_matrix/client/v3/rooms/!r:example.org/state/m.room.name/" });
    assert.equal(state?.fullTemplate, "/_matrix/client/v3/rooms/{roomId}/state/{eventType}/{stateKey}");
    assert.equal(state?.params["stateKey"], "");
    const noSlash = matchOperation({ method: "GET", path: "/_matrix/client/v3/rooms/!r:example.org/state/m.room.name" });
    assert.equal(noSlash?.fullTemplate, "/_matrix/client/v3/rooms/{roomId}/state/{eventType}/{stateKey}");
  });
});

describe("openapi validator: standalone schemas and recursion", () => {
  it("validates events against event-schemas (allOf + cross-directory refs)", () => {
    const errors = validateAgainstSchema("event-schemas/schema/m.room.member.yaml", {
      type: "m.room.member",
      content: { membership: "nope" },
    });
    assert.ok(errors.some((e) => /\/content\/membership must be equal to one of the allowed values/.test(e)));
    assert.ok(errors.some((e) => /must have required property 'event_id'/.test(e)));
  });

  it("handles recursive $refs (self and mutual, across files)", () => {
    const dir = mkdtempSync(join(tmpdir(), "openapi-recursion-"));
    writeFileSync(
      join(dir, "node.yaml"),
      [
        "type: object",
        "required: [name]",
        "properties:",
        "  name: { type: string }",
        "  children:",
        "    type: array",
        "    items: { $ref: '#' }",
        "  other: { $ref: 'other.yaml' }",
      ].join("\n"),
    );
    writeFileSync(
      join(dir, "other.yaml"),
      ["type: object", "properties:", "  back: { $ref: 'node.yaml' }", "  n: { type: integer }"].join("\n"),
    );
    const file = join(dir, "node.yaml");
    const good = { name: "a", children: [{ name: "b", children: [{ name: "c" }] }], other: { back: { name: "d" } } };
    assert.deepEqual(validateAgainstSchema(file, good), []);
    const bad = { name: "a", children: [{ children: [{ name: 3 }] }], other: { n: "x", back: { name: 1 } } };
    const errors = validateAgainstSchema(file, bad);
    assert.ok(errors.some((e) => e.includes("/children/0 must have required property 'name'")), errors.join("\n"));
    assert.ok(errors.some((e) => e.includes("/children/0/children/0/name must be string")), errors.join("\n"));
    assert.ok(errors.some((e) => e.includes("/other/n must be integer")), errors.join("\n"));
    assert.ok(errors.some((e) => e.includes("/other/back/name must be string")), errors.join("\n"));
  });
});
