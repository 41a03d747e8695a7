/**
 * The README's promise, end to end: `npm start` brings up a homeserver that matrix-js-sdk can use —
 * register (UIA, m.login.dummy), log in, whoami, list and rename devices, refresh a token, log out —
 * and its data survives a restart.
 */
import assert from "node:assert/strict";
import { spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { fileURLToPath } from "node:url";
import { MatrixError, type MatrixClient } from "matrix-js-sdk";
import { freePort } from "../../scripts/lib/postgres";
import { TEST_VARS } from "../support/homeserver";
import { createTestClient as createClient } from "../support/sdk";

const ROOT = fileURLToPath(new URL("../..", import.meta.url));
const dataDir = mkdtempSync(join(tmpdir(), "hs-quickstart-"));
let port = 0;
let server: ChildProcess | undefined;

/** Runs `npm start` exactly as the README says, with a private port and data directory. */
async function npmStart(): Promise<ChildProcess> {
  const child = spawn("npm", ["start"], {
    cwd: ROOT,
    env: { ...process.env, ...TEST_VARS, PORT: String(port), DATA_DIR: dataDir, DATABASE_URL: "" },
    stdio: ["ignore", "pipe", "pipe"],
    detached: true,
  });
  let output = "";
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`npm start did not come up:\n${output}`)), 60_000);
    const onData = (chunk: Buffer) => {
      output += chunk.toString();
      if (output.includes("listening on")) {
        clearTimeout(timer);
        resolve();
      }
    };
    child.stdout?.on("data", onData);
    child.stderr?.on("data", onData);
    child.on("exit", (code) => {
      clearTimeout(timer);
      reject(new Error(`npm start exited with ${code}:\n${output}`));
    });
  });
  child.removeAllListeners("exit");
  return child;
}

async function stopServer(child: ChildProcess): Promise<void> {
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  // npm runs the server in a child of its own: signal the whole process group.
  if (child.pid) process.kill(-child.pid, "SIGTERM");
  await exited;
}

const baseUrl = () => `http://127.0.0.1:${port}`;

before(async () => {
  port = await freePort();
  server = await npmStart();
});

after(async () => {
  if (server) await stopServer(server);
  rmSync(dataDir, { recursive: true, force: true });
});

async function registerWithDummyAuth(client: MatrixClient, username: string, password: string) {
  let session: string | undefined;
  try {
    await client.registerRequest({ username, password });
    assert.fail("registration without auth must ask for user-interactive auth");
  } catch (error) {
    assert.ok(error instanceof MatrixError);
    assert.equal(error.httpStatus, 401);
    const flows = error.data.flows as { stages: string[] }[];
    assert.deepEqual(flows, [{ stages: ["m.login.dummy"] }]);
    session = error.data.session as string;
  }
  return client.registerRequest({ username, password, auth: { type: "m.login.dummy", session } });
}

test("matrix-js-sdk: register, log in, whoami, devices, refresh, log out, restart", async () => {
  const anonymous = createClient({ baseUrl: baseUrl() });
  const registered = await registerWithDummyAuth(anonymous, "alice", "correct horse battery staple");
  assert.equal(registered.user_id, "@alice:localhost");
  assert.ok(registered.access_token);

  const loginClient = createClient({ baseUrl: baseUrl() });
  const login = await loginClient.loginRequest({
    type: "m.login.password",
    identifier: { type: "m.id.user", user: "alice" },
    password: "correct horse battery staple",
    initial_device_display_name: "Laptop",
    refresh_token: true,
  });
  assert.equal(login.user_id, "@alice:localhost");
  assert.ok(login.refresh_token, "a refresh token was asked for");
  assert.equal(typeof login.expires_in_ms, "number");

  const alice = createClient({
    baseUrl: baseUrl(),
    accessToken: login.access_token,
    userId: login.user_id,
    deviceId: login.device_id,
  });
  const whoami = await alice.whoami();
  assert.equal(whoami.user_id, "@alice:localhost");
  assert.equal(whoami.device_id, login.device_id);

  const { devices } = await alice.getDevices();
  assert.equal(devices.length, 2, "registration and login each created a device");
  assert.equal(devices.find((d) => d.device_id === login.device_id)?.display_name, "Laptop");
  await alice.setDeviceDetails(login.device_id, { display_name: "Work laptop" });
  assert.equal((await alice.getDevice(login.device_id)).display_name, "Work laptop");

  const refreshed = await alice.refreshToken(login.refresh_token!);
  assert.notEqual(refreshed.access_token, login.access_token);
  await assert.rejects(alice.whoami(), (error: MatrixError) => error.errcode === "M_UNKNOWN_TOKEN");
  alice.setAccessToken(refreshed.access_token);
  assert.equal((await alice.whoami()).user_id, "@alice:localhost");

  await alice.logout();
  await assert.rejects(alice.whoami(), (error: MatrixError) => {
    assert.equal(error.errcode, "M_UNKNOWN_TOKEN");
    assert.equal(error.httpStatus, 401);
    return true;
  });

  // Data survives a restart of `npm start` on the same data directory, and so do sync tokens.
  const keeper = await createClient({ baseUrl: baseUrl() }).loginRequest({
    type: "m.login.password",
    user: "alice",
    password: "correct horse battery staple",
  });
  const syncAs = async (token: string, since?: string) => {
    const response = await fetch(`${baseUrl()}/_matrix/client/v3/sync${since ? `?since=${since}` : ""}`, {
      headers: { authorization: `Bearer ${token}` },
    });
    assert.equal(response.status, 200);
    return (await response.json()) as { next_batch: string; rooms?: { join?: Record<string, unknown> } };
  };
  const roomResponse = await fetch(`${baseUrl()}/_matrix/client/v3/createRoom`, {
    method: "POST",
    headers: { authorization: `Bearer ${keeper.access_token}`, "content-type": "application/json" },
    body: JSON.stringify({ name: "Survivor" }),
  });
  const { room_id: roomId } = (await roomResponse.json()) as { room_id: string };
  const beforeRestart = await syncAs(keeper.access_token);
  assert.ok(beforeRestart.rooms?.join?.[roomId]);
  await stopServer(server!);
  server = await npmStart();
  const afterRestart = await syncAs(keeper.access_token, beforeRestart.next_batch);
  assert.deepEqual(afterRestart.rooms?.join ?? {}, {}, "a token from before the restart still means the same position");
  const again = await createClient({ baseUrl: baseUrl() }).loginRequest({
    type: "m.login.password",
    user: "alice",
    password: "correct horse battery staple",
  });
  assert.equal(again.user_id, "@alice:localhost");
  const remaining = await createClient({ baseUrl: baseUrl(), accessToken: again.access_token }).getDevices();
  assert.ok(remaining.devices.some((d) => d.device_id === registered.device_id), "devices survive the restart");
  assert.ok(!remaining.devices.some((d) => d.device_id === login.device_id), "the logged-out device stays gone");
});
