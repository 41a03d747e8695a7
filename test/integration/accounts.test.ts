/**
 * Accounts over HTTP as clients see them: discovery, registration with UIA, login, tokens, devices,
 * password change and deactivation, with every response checked against the OpenAPI definitions and
 * every bad input answered with the spec's error.
 */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { useTestHomeserver } from "../support/homeserver";
import { uniqueName } from "../support/http";

const homeserver = useTestHomeserver();
const { api } = homeserver;

const V3 = "/_matrix/client/v3";

async function login(user: string, password: string, extra: Record<string, unknown> = {}) {
  return api.post<{ user_id: string; access_token: string; device_id: string; refresh_token?: string }>(
    `${V3}/login`,
    { type: "m.login.password", identifier: { type: "m.id.user", user }, password, ...extra },
  );
}

describe("discovery", () => {
  test("versions, well-known, health", async () => {
    const versions = await api.get<{ versions: string[] }>("/_matrix/client/versions");
    assert.equal(versions.status, 200);
    assert.ok(versions.body.versions.includes("v1.1"));
    const wellKnown = await api.get<{ "m.homeserver": { base_url: string } }>("/.well-known/matrix/client");
    assert.equal(wellKnown.body["m.homeserver"].base_url, homeserver.server.url);
    assert.equal(wellKnown.headers.get("access-control-allow-origin"), "*");
    const serverWellKnown = await api.get("/.well-known/matrix/server", { checkSpec: false });
    assert.equal(serverWellKnown.status, 404, "no delegation is configured");
    const health = await fetch(`${homeserver.server.url}/health`);
    assert.equal(await health.text(), "OK");
  });

  test("capabilities need a token and list room versions", async () => {
    const missing = await api.get(`${V3}/capabilities`);
    assert.equal(missing.status, 401);
    assert.equal(missing.body.errcode, "M_MISSING_TOKEN");
    const user = await api.register(uniqueName("cap"), "pw");
    const caps = await api.get<{ capabilities: Record<string, { default?: string; available?: object }> }>(
      `${V3}/capabilities`,
      { token: user.access_token },
    );
    assert.equal(caps.status, 200);
    assert.equal(caps.body.capabilities["m.room_versions"]?.default, "11");
    assert.deepEqual(Object.keys(caps.body.capabilities["m.room_versions"]?.available ?? {}).length, 12);
  });

  test("unknown endpoints and methods are M_UNRECOGNIZED 404/405, with CORS", async () => {
    const unknown = await api.get(`${V3}/no/such/endpoint`, { checkSpec: false });
    assert.equal(unknown.status, 404);
    assert.equal(unknown.body.errcode, "M_UNRECOGNIZED");
    assert.equal(unknown.headers.get("access-control-allow-origin"), "*");
    const wrongMethod = await api.request("PATCH", `${V3}/login`, undefined, { checkSpec: false });
    assert.equal(wrongMethod.status, 405);
    assert.equal(wrongMethod.body.errcode, "M_UNRECOGNIZED");
    const preflight = await fetch(`${homeserver.server.url}${V3}/login`, {
      method: "OPTIONS",
      headers: { origin: "https://app.element.io", "access-control-request-method": "POST" },
    });
    assert.ok(preflight.status === 200 || preflight.status === 204);
    assert.equal(preflight.headers.get("access-control-allow-origin"), "*");
    assert.match(preflight.headers.get("access-control-allow-headers") ?? "", /Authorization/);
  });
});

describe("registration", () => {
  test("UIA with m.login.dummy, then the session cannot be replayed", async () => {
    const username = uniqueName("reg");
    const first = await api.post<{ session: string; flows: { stages: string[] }[] }>(`${V3}/register`, {
      username,
      password: "pw",
    });
    assert.equal(first.status, 401);
    assert.deepEqual(first.body.flows, [{ stages: ["m.login.dummy"] }]);
    const body = { username, password: "pw", auth: { type: "m.login.dummy", session: first.body.session } };
    const done = await api.post<{ user_id: string; access_token: string }>(`${V3}/register`, body);
    assert.equal(done.status, 200);
    assert.equal(done.body.user_id, `@${username}:localhost`);
    const replayed = await api.post(`${V3}/register`, { ...body, username: uniqueName("replay") }, { checkSpec: false });
    assert.equal(replayed.status, 400);
    assert.equal(replayed.body.errcode, "M_UNKNOWN");
  });

  test("a UIA session is bound to the request that opened it", async () => {
    const user = await api.register(uniqueName("bind"), "pw");
    const opened = await api.post<{ session: string }>(`${V3}/delete_devices`, { devices: [] }, { token: user.access_token });
    assert.equal(opened.status, 401);
    const elsewhere = await api.post(
      `${V3}/account/password`,
      { new_password: "x", auth: { type: "m.login.password", session: opened.body.session, user: user.user_id, password: "pw" } },
      { token: user.access_token, checkSpec: false },
    );
    assert.equal(elsewhere.status, 403);
    assert.equal(elsewhere.body.errcode, "M_FORBIDDEN");
  });

  test("inhibit_login returns only the user ID; device_id and display name are used", async () => {
    const inhibited = await api.post(`${V3}/register`, {
      username: uniqueName("inh"),
      password: "pw",
      inhibit_login: true,
      auth: { type: "m.login.dummy" },
    });
    assert.equal(inhibited.status, 200);
    assert.deepEqual(Object.keys(inhibited.body), ["user_id"]);
    const withDevice = await api.register(uniqueName("dev"), "pw", {
      device_id: "MYPHONE",
      initial_device_display_name: "Phone",
    });
    assert.equal(withDevice.device_id, "MYPHONE");
    const device = await api.get<{ display_name: string }>(`${V3}/devices/MYPHONE`, { token: withDevice.access_token });
    assert.equal(device.body.display_name, "Phone");
  });

  test("taken, invalid and over-long usernames", async () => {
    const username = uniqueName("taken");
    await api.register(username, "pw");
    const taken = await api.post(`${V3}/register`, { username, password: "pw", auth: { type: "m.login.dummy" } });
    assert.equal(taken.status, 400);
    assert.equal(taken.body.errcode, "M_USER_IN_USE");
    const availableTaken = await api.get(`${V3}/register/available?username=${username}`);
    assert.equal(availableTaken.body.errcode, "M_USER_IN_USE");
    const free = await api.get(`${V3}/register/available?username=${uniqueName("free")}`);
    assert.deepEqual(free.body, { available: true });

    for (const bad of ["Upper", "has space", "émoji", "_reserved", "a".repeat(250)]) {
      const response = await api.post(`${V3}/register`, { username: bad, password: "pw", auth: { type: "m.login.dummy" } });
      assert.equal(response.status, 400, bad);
      assert.equal(response.body.errcode, "M_INVALID_USERNAME", bad);
    }
    const available = await api.get(`${V3}/register/available?username=${"b".repeat(250)}`);
    assert.equal(available.body.errcode, "M_INVALID_USERNAME");
  });

  test("malformed bodies get M_NOT_JSON, M_BAD_JSON or M_MISSING_PARAM", async () => {
    const notJson = await api.post(`${V3}/register`, undefined, { rawBody: "{not json" });
    assert.equal(notJson.status, 400);
    assert.equal(notJson.body.errcode, "M_NOT_JSON");
    const notObject = await api.post(`${V3}/register`, undefined, { rawBody: "[1,2]" });
    assert.equal(notObject.body.errcode, "M_BAD_JSON");
    const wrongType = await api.post(`${V3}/register`, { username: 42, password: "pw" });
    assert.equal(wrongType.status, 400);
    assert.equal(wrongType.body.errcode, "M_BAD_JSON");
    const noPassword = await api.post(`${V3}/register`, { username: uniqueName("nopw"), auth: { type: "m.login.dummy" } });
    assert.equal(noPassword.status, 400);
    assert.equal(noPassword.body.errcode, "M_MISSING_PARAM");
    const badKind = await api.post(`${V3}/register?kind=robot`, {}, { checkSpec: false });
    assert.equal(badKind.status, 400);
    const guest = await api.post(`${V3}/register?kind=guest`, {});
    assert.equal(guest.status, 403);
    assert.equal(guest.body.errcode, "M_GUEST_ACCESS_FORBIDDEN");
  });

  test("the legacy r0 prefix answers the same API", async () => {
    const user = await api.register(uniqueName("r0"), "pw");
    const whoami = await api.get<{ user_id: string }>("/_matrix/client/r0/account/whoami", { token: user.access_token });
    assert.equal(whoami.status, 200);
    assert.equal(whoami.body.user_id, user.user_id);
  });
});

describe("login and tokens", () => {
  test("login flows, m.id.user and the legacy user field, full user IDs", async () => {
    const flows = await api.get<{ flows: { type: string }[] }>(`${V3}/login`);
    assert.deepEqual(flows.body.flows, [{ type: "m.login.password" }]);
    const username = uniqueName("login");
    await api.register(username, "s3cret");
    const byIdentifier = await login(username, "s3cret", { device_id: "DEVA", initial_device_display_name: "A" });
    assert.equal(byIdentifier.status, 200);
    assert.equal(byIdentifier.body.device_id, "DEVA");
    const legacy = await api.post(`${V3}/login`, { type: "m.login.password", user: `@${username}:localhost`, password: "s3cret" });
    assert.equal(legacy.status, 200);
  });

  test("wrong passwords, unknown users and bad login bodies", async () => {
    const username = uniqueName("wrong");
    await api.register(username, "right");
    for (const [user, password] of [
      [username, "wrong"],
      [uniqueName("ghost"), "right"],
      [`@${username}:other.server`, "right"],
    ] as const) {
      const response = await login(user, password);
      assert.equal(response.status, 403, `${user}/${password}`);
      assert.equal(response.body.errcode, "M_FORBIDDEN");
    }
    const unknownType = await api.post(`${V3}/login`, { type: "m.login.carrier_pigeon" });
    assert.equal(unknownType.status, 400);
    const noPassword = await api.post(`${V3}/login`, { type: "m.login.password", user: username });
    assert.equal(noPassword.body.errcode, "M_MISSING_PARAM");
    const numericPassword = await api.post(`${V3}/login`, { type: "m.login.password", user: username, password: 5 });
    assert.equal(numericPassword.body.errcode, "M_BAD_JSON");
    const noType = await api.post(`${V3}/login`, { user: username, password: "right" });
    assert.equal(noType.body.errcode, "M_MISSING_PARAM");
  });

  test("missing, malformed and unknown tokens", async () => {
    const missing = await api.get(`${V3}/account/whoami`);
    assert.equal(missing.body.errcode, "M_MISSING_TOKEN");
    const unknown = await api.get(`${V3}/account/whoami`, { token: "mat_00_xyz" });
    assert.equal(unknown.status, 401);
    assert.equal(unknown.body.errcode, "M_UNKNOWN_TOKEN");
    const forged = await api.get(`${V3}/account/whoami`, {
      token: `mat_${Buffer.from("@nobody:localhost").toString("hex")}_${"a".repeat(40)}`,
    });
    assert.equal(forged.body.errcode, "M_UNKNOWN_TOKEN");
    const user = await api.register(uniqueName("query"), "pw");
    const viaQuery = await api.get(`${V3}/account/whoami?access_token=${user.access_token}`);
    assert.equal(viaQuery.status, 200);
  });

  test("logout refuses the token at once; logout/all ends every session", async () => {
    const username = uniqueName("out");
    const registered = await api.register(username, "pw");
    const second = await login(username, "pw");
    assert.equal((await api.post(`${V3}/logout`, {}, { token: registered.access_token })).status, 200);
    const refused = await api.get(`${V3}/account/whoami`, { token: registered.access_token });
    assert.equal(refused.body.errcode, "M_UNKNOWN_TOKEN");
    assert.equal(refused.body.soft_logout, false);
    const devices = await api.get<{ devices: { device_id: string }[] }>(`${V3}/devices`, { token: second.body.access_token });
    assert.deepEqual(devices.body.devices.map((d) => d.device_id), [second.body.device_id], "logout deletes the device");
    const third = await login(username, "pw");
    assert.equal((await api.post(`${V3}/logout/all`, {}, { token: second.body.access_token })).status, 200);
    for (const token of [second.body.access_token, third.body.access_token]) {
      assert.equal((await api.get(`${V3}/account/whoami`, { token })).body.errcode, "M_UNKNOWN_TOKEN");
    }
  });

  test("refresh tokens rotate and cannot be reused", async () => {
    const username = uniqueName("refresh");
    await api.register(username, "pw");
    const first = await login(username, "pw", { refresh_token: true });
    const rotated = await api.post<{ access_token: string; refresh_token: string; expires_in_ms: number }>(
      `${V3}/refresh`,
      { refresh_token: first.body.refresh_token },
    );
    assert.equal(rotated.status, 200);
    assert.ok(rotated.body.expires_in_ms > 0);
    assert.equal((await api.get(`${V3}/account/whoami`, { token: first.body.access_token })).status, 401);
    assert.equal((await api.get(`${V3}/account/whoami`, { token: rotated.body.access_token })).status, 200);
    const reused = await api.post(`${V3}/refresh`, { refresh_token: first.body.refresh_token });
    assert.equal(reused.status, 401);
    assert.equal(reused.body.errcode, "M_UNKNOWN_TOKEN");
    const garbage = await api.post(`${V3}/refresh`, { refresh_token: "nonsense" });
    assert.equal(garbage.body.errcode, "M_UNKNOWN_TOKEN");
    const missing = await api.post(`${V3}/refresh`, {});
    assert.equal(missing.body.errcode, "M_MISSING_PARAM");
  });
});

describe("devices", () => {
  test("list, get, rename, delete with UIA", async () => {
    const username = uniqueName("devs");
    const user = await api.register(username, "pw");
    const other = await login(username, "pw", { device_id: "OTHER" });
    const token = user.access_token;

    const listed = await api.get<{ devices: { device_id: string }[] }>(`${V3}/devices`, { token });
    assert.deepEqual(listed.body.devices.map((d) => d.device_id).sort(), [user.device_id, "OTHER"].sort());
    assert.equal((await api.put(`${V3}/devices/OTHER`, { display_name: "Tablet" }, { token })).status, 200);
    assert.equal((await api.get<{ display_name: string }>(`${V3}/devices/OTHER`, { token })).body.display_name, "Tablet");
    const unknown = await api.get(`${V3}/devices/NOPE`, { token });
    assert.equal(unknown.status, 404);
    assert.equal(unknown.body.errcode, "M_NOT_FOUND");
    assert.equal((await api.put(`${V3}/devices/NOPE`, { display_name: "x" }, { token })).status, 404);

    const challenge = await api.delete<{ session: string; flows: { stages: string[] }[] }>(`${V3}/devices/OTHER`, {}, { token });
    assert.equal(challenge.status, 401);
    assert.deepEqual(challenge.body.flows, [{ stages: ["m.login.password"] }]);
    const wrongPassword = await api.delete<{ errcode: string; session: string }>(
      `${V3}/devices/OTHER`,
      { auth: { type: "m.login.password", session: challenge.body.session, identifier: { type: "m.id.user", user: username }, password: "nope" } },
      { token },
    );
    assert.equal(wrongPassword.status, 401);
    assert.equal(wrongPassword.body.errcode, "M_FORBIDDEN");
    const deleted = await api.delete(
      `${V3}/devices/OTHER`,
      { auth: { type: "m.login.password", session: challenge.body.session, identifier: { type: "m.id.user", user: username }, password: "pw" } },
      { token },
    );
    assert.equal(deleted.status, 200);
    assert.equal((await api.get(`${V3}/account/whoami`, { token: other.body.access_token })).body.errcode, "M_UNKNOWN_TOKEN");

    const third = await login(username, "pw", { device_id: "THIRD" });
    const bulk = await api.post(
      `${V3}/delete_devices`,
      { devices: ["THIRD"], auth: { type: "m.login.password", user: username, password: "pw" } },
      { token },
    );
    assert.equal(bulk.status, 200);
    assert.equal((await api.get(`${V3}/account/whoami`, { token: third.body.access_token })).status, 401);
    const badList = await api.post(`${V3}/delete_devices`, { devices: "THIRD" }, { token });
    assert.equal(badList.body.errcode, "M_BAD_JSON");
  });
});

describe("account management", () => {
  test("password change logs out other devices unless told not to", async () => {
    const username = uniqueName("pwchange");
    const user = await api.register(username, "old");
    const other = await login(username, "old");
    const auth = (password: string) => ({ type: "m.login.password", identifier: { type: "m.id.user", user: username }, password });

    const kept = await api.post(`${V3}/account/password`, { new_password: "mid", logout_devices: false, auth: auth("old") }, { token: user.access_token });
    assert.equal(kept.status, 200);
    assert.equal((await api.get(`${V3}/account/whoami`, { token: other.body.access_token })).status, 200);

    const changed = await api.post(`${V3}/account/password`, { new_password: "new", auth: auth("mid") }, { token: user.access_token });
    assert.equal(changed.status, 200);
    assert.equal((await api.get(`${V3}/account/whoami`, { token: other.body.access_token })).status, 401);
    assert.equal((await api.get(`${V3}/account/whoami`, { token: user.access_token })).status, 200, "own session kept");
    assert.equal((await login(username, "mid")).status, 403);
    assert.equal((await login(username, "new")).status, 200);
  });

  test("deactivation ends every session and refuses later logins", async () => {
    const username = uniqueName("deact");
    const user = await api.register(username, "pw");
    const challenge = await api.post<{ session: string }>(`${V3}/account/deactivate`, {}, { token: user.access_token });
    assert.equal(challenge.status, 401);
    const done = await api.post<{ id_server_unbind_result: string }>(
      `${V3}/account/deactivate`,
      { erase: true, auth: { type: "m.login.password", session: challenge.body.session, user: username, password: "pw" } },
      { token: user.access_token },
    );
    assert.equal(done.status, 200);
    assert.equal(done.body.id_server_unbind_result, "no-support");
    assert.equal((await api.get(`${V3}/account/whoami`, { token: user.access_token })).body.errcode, "M_UNKNOWN_TOKEN");
    const again = await login(username, "pw");
    assert.equal(again.status, 403);
    const reuse = await api.post(`${V3}/register`, { username, password: "pw", auth: { type: "m.login.dummy" } });
    assert.equal(reuse.body.errcode, "M_USER_IN_USE", "a deactivated user ID is never handed out again");
  });
});
