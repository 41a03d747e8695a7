/**
 * Server policy around accounts: registration tokens, shared-secret registration (Synapse's admin API
 * and `npm run register-user`), closed registration, request size limits, expiring access tokens and
 * rate limits.
 */
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { createHmac } from "node:crypto";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { describe, test } from "node:test";
import { useTestHomeserver } from "../support/homeserver";
import { sharedSecretRegister, uniqueName } from "../support/http";

const V3 = "/_matrix/client/v3";
const ROOT = fileURLToPath(new URL("../..", import.meta.url));

const policy = useTestHomeserver({
  vars: {
    REGISTRATION_REQUIRES_TOKEN: "true",
    ACCESS_TOKEN_LIFETIME_MS: "1500",
    RC_LOGIN_ADDRESS_PER_SECOND: "0.01",
    RC_LOGIN_ADDRESS_BURST: "4",
  },
});
const closed = useTestHomeserver({ vars: { ENABLE_REGISTRATION: "false", MAX_JSON_BODY_BYTES: "2048", ALLOW_GUEST_ACCESS: "true" } });
const { api } = policy;
const { api: closedApi } = closed;

describe("shared-secret registration", () => {
  test("nonce and HMAC-SHA1 create a user; a bad MAC or a reused nonce is refused", async () => {
    const username = uniqueName("admin");
    const created = await sharedSecretRegister(closedApi, closed.server.registrationSharedSecret, { username, password: "pw", admin: true });
    assert.equal(created.status, 200);
    assert.equal(created.body.user_id, `@${username}:localhost`);
    const whoami = await closedApi.get(`${V3}/account/whoami`, { token: created.body.access_token });
    assert.equal(whoami.status, 200);

    const wrong = await sharedSecretRegister(closedApi, "not the secret", { username: uniqueName("x"), password: "pw" });
    assert.equal(wrong.status, 403);
    assert.equal(wrong.body.errcode, "M_FORBIDDEN");

    const { body } = await closedApi.get<{ nonce: string }>("/_synapse/admin/v1/register", { checkSpec: false });
    const fields = { username: uniqueName("once"), password: "pw" };
    const mac = createHmac("sha1", closed.server.registrationSharedSecret)
      .update([body.nonce, fields.username, fields.password, "notadmin"].join("\x00"))
      .digest("hex");
    const first = await closedApi.post("/_synapse/admin/v1/register", { nonce: body.nonce, ...fields, mac }, { checkSpec: false });
    assert.equal(first.status, 200);
    const replay = await closedApi.post("/_synapse/admin/v1/register", { nonce: body.nonce, ...fields, mac }, { checkSpec: false });
    assert.equal(replay.status, 400);
  });

  test("npm run register-user creates a user against a running server", async () => {
    const username = uniqueName("cli");
    const { stdout } = await promisify(execFile)(
      "npm",
      ["run", "--silent", "register-user", "--", "-u", username, "-p", "cli-pass", "--admin", "--url", closed.server.url],
      { cwd: ROOT, env: { ...process.env, REGISTRATION_SHARED_SECRET: closed.server.registrationSharedSecret } },
    );
    assert.match(stdout, new RegExp(`Registered @${username}:localhost \\(admin\\)`));
    const login = await closedApi.post(`${V3}/login`, { type: "m.login.password", user: username, password: "cli-pass" });
    assert.equal(login.status, 200);
  });
});

describe("closed registration and limits", () => {
  test("registration is refused with M_FORBIDDEN when disabled", async () => {
    const response = await closedApi.post(`${V3}/register`, { username: "someone", password: "pw", auth: { type: "m.login.dummy" } });
    assert.equal(response.status, 403);
    assert.equal(response.body.errcode, "M_FORBIDDEN");
    const available = await closedApi.get(`${V3}/register/available?username=someone`);
    assert.equal(available.status, 403);
  });

  test("guests may register when guest access is on, even with registration closed", async () => {
    const guest = await closedApi.post<{ user_id: string; access_token: string }>(`${V3}/register?kind=guest`, {});
    assert.equal(guest.status, 200);
    assert.match(guest.body.user_id, /^@[0-9]+:localhost$/);
    const whoami = await closedApi.get<{ is_guest: boolean }>(`${V3}/account/whoami`, { token: guest.body.access_token });
    assert.equal(whoami.body.is_guest, true);
  });

  test("an over-size body is M_TOO_LARGE, never a 5xx", async () => {
    const response = await closedApi.post(`${V3}/login`, { type: "m.login.password", user: "x", password: "y".repeat(5000) });
    assert.equal(response.status, 413);
    assert.equal(response.body.errcode, "M_TOO_LARGE");
  });
});

describe("registration tokens", () => {
  test("admin API manages tokens; m.login.registration_token spends them", async () => {
    const admin = await sharedSecretRegister(api, policy.server.registrationSharedSecret, { username: uniqueName("boss"), password: "pw", admin: true });
    const token = admin.body.access_token;
    const plain = await sharedSecretRegister(api, policy.server.registrationSharedSecret, { username: uniqueName("pleb"), password: "pw" });
    const notAdmin = await api.post("/_synapse/admin/v1/registration_tokens/new", {}, { token: plain.body.access_token, checkSpec: false });
    assert.equal(notAdmin.status, 403);

    const created = await api.post<{ token: string; uses_allowed: number; pending: number; completed: number }>(
      "/_synapse/admin/v1/registration_tokens/new",
      { token: "letmein", uses_allowed: 1 },
      { token, checkSpec: false },
    );
    assert.equal(created.status, 200);
    assert.deepEqual(created.body, { token: "letmein", uses_allowed: 1, pending: 0, completed: 0, expiry_time: null });
    const duplicate = await api.post("/_synapse/admin/v1/registration_tokens/new", { token: "letmein" }, { token, checkSpec: false });
    assert.equal(duplicate.status, 400);

    const validity = await api.get<{ valid: boolean }>("/_matrix/client/v1/register/m.login.registration_token/validity?token=letmein");
    assert.deepEqual(validity.body, { valid: true });
    const invalid = await api.get<{ valid: boolean }>("/_matrix/client/v1/register/m.login.registration_token/validity?token=nope");
    assert.deepEqual(invalid.body, { valid: false });

    const username = uniqueName("tok");
    const challenge = await api.post<{ flows: { stages: string[] }[]; session: string }>(`${V3}/register`, { username, password: "pw" });
    assert.deepEqual(challenge.body.flows, [{ stages: ["m.login.registration_token"] }]);
    const dummy = await api.post(`${V3}/register`, { username, password: "pw", auth: { type: "m.login.dummy", session: challenge.body.session } });
    assert.equal(dummy.status, 400, "the dummy stage is not offered when a token is required");
    const wrongToken = await api.post<{ errcode: string }>(`${V3}/register`, {
      username,
      password: "pw",
      auth: { type: "m.login.registration_token", token: "guess", session: challenge.body.session },
    });
    assert.equal(wrongToken.status, 401);
    assert.equal(wrongToken.body.errcode, "M_UNAUTHORIZED");
    const registered = await api.post(`${V3}/register`, {
      username,
      password: "pw",
      auth: { type: "m.login.registration_token", token: "letmein", session: challenge.body.session },
    });
    assert.equal(registered.status, 200);

    const spent = await api.get<{ pending: number; completed: number }>("/_synapse/admin/v1/registration_tokens/letmein", { token, checkSpec: false });
    assert.equal(spent.body.completed, 1);
    assert.equal(spent.body.pending, 0);
    const exhausted = await api.post(`${V3}/register`, {
      username: uniqueName("late"),
      password: "pw",
      auth: { type: "m.login.registration_token", token: "letmein" },
    });
    assert.equal(exhausted.status, 401, "a token with no uses left is refused");

    const updated = await api.put<{ uses_allowed: number }>("/_synapse/admin/v1/registration_tokens/letmein", { uses_allowed: 5 }, { token, checkSpec: false });
    assert.equal(updated.body.uses_allowed, 5);
    const listed = await api.get<{ registration_tokens: { token: string }[] }>("/_synapse/admin/v1/registration_tokens?valid=true", { token, checkSpec: false });
    assert.ok(listed.body.registration_tokens.some((t) => t.token === "letmein"));
    assert.equal((await api.delete("/_synapse/admin/v1/registration_tokens/letmein", undefined, { token, checkSpec: false })).status, 200);
    assert.equal((await api.get("/_synapse/admin/v1/registration_tokens/letmein", { token, checkSpec: false })).status, 404);
  });
});

describe("expiring tokens and rate limits", () => {
  test("an expired access token is a soft logout; its refresh token still works", async () => {
    const username = uniqueName("soft");
    await sharedSecretRegister(api, policy.server.registrationSharedSecret, { username, password: "pw" });
    const login = await api.post<{ access_token: string; refresh_token: string; expires_in_ms: number }>(`${V3}/login`, {
      type: "m.login.password",
      user: username,
      password: "pw",
      refresh_token: true,
    });
    assert.equal(login.body.expires_in_ms, 1500);
    assert.equal((await api.get(`${V3}/account/whoami`, { token: login.body.access_token })).status, 200);
    await new Promise((resolve) => setTimeout(resolve, 1700));
    const expired = await api.get(`${V3}/account/whoami`, { token: login.body.access_token });
    assert.equal(expired.status, 401);
    assert.equal(expired.body.errcode, "M_UNKNOWN_TOKEN");
    assert.equal(expired.body.soft_logout, true);
    const refreshed = await api.post<{ access_token: string }>(`${V3}/refresh`, { refresh_token: login.body.refresh_token });
    assert.equal(refreshed.status, 200);
    assert.equal((await api.get(`${V3}/account/whoami`, { token: refreshed.body.access_token })).status, 200);
  });

  test("too many logins from one address get M_LIMIT_EXCEEDED with retry_after_ms", async () => {
    let limited: { status: number; body: Record<string, unknown>; headers: Headers } | undefined;
    for (let attempt = 0; attempt < 10 && !limited; attempt++) {
      const response = await api.post(`${V3}/login`, { type: "m.login.password", user: "nobody", password: "x" });
      if (response.status === 429) limited = response;
      else assert.equal(response.status, 403);
    }
    assert.ok(limited, "the login rate limit never triggered");
    assert.equal(limited.body.errcode, "M_LIMIT_EXCEEDED");
    assert.equal(typeof limited.body.retry_after_ms, "number");
    assert.ok((limited.body.retry_after_ms as number) > 0);
    assert.ok(limited.headers.get("retry-after"));
  });
});
