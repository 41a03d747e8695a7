/**
 * A homeserver for one test file: the same launcher as `npm start`, on a free port with its own data
 * directory. With TEST_DATABASE_URL set (CI's real PostgreSQL), each server gets a fresh database there
 * instead of the embedded PGlite.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before } from "node:test";
import { LogLevel } from "miniflare";
import pg from "pg";
import { startHomeserver, type RunningHomeserver } from "../../scripts/lib/homeserver";
import { freePort } from "../../scripts/lib/postgres";
import { UNTHROTTLED_VARS } from "../../scripts/lib/settings";
import { TestClient } from "./http";
import { RoomTestClient } from "./rooms";

/** Settings tests start from: open registration and rate limits far out of the way. */
export const TEST_VARS: Readonly<Record<string, string>> = UNTHROTTLED_VARS;

async function createFreshDatabase(adminUrl: string): Promise<string> {
  const name = `hs_test_${Date.now()}_${Math.floor(Math.random() * 1e6)}`;
  const client = new pg.Client({ connectionString: adminUrl });
  await client.connect();
  try {
    await client.query(`CREATE DATABASE ${name}`);
  } finally {
    await client.end();
  }
  const url = new URL(adminUrl);
  url.pathname = `/${name}`;
  return url.toString();
}

export interface TestHomeserver extends RunningHomeserver {
  dataDir: string;
}

export async function startTestHomeserver(vars: Record<string, string> = {}): Promise<TestHomeserver> {
  const dataDir = mkdtempSync(join(tmpdir(), "hs-test-"));
  const adminUrl = process.env.TEST_DATABASE_URL;
  const server = await startHomeserver({
    port: await freePort(),
    dataDir,
    databaseUrl: adminUrl ? await createFreshDatabase(adminUrl) : undefined,
    vars: { ...TEST_VARS, ...vars },
    workerLogLevel: process.env.TEST_WORKER_LOGS ? LogLevel.INFO : LogLevel.WARN,
  });
  return {
    ...server,
    dataDir,
    async stop() {
      await server.stop();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

/** A test file's homeserver, as useTestHomeserver sets it up. */
export interface TestHomeserverFixture {
  /** The running server: read it inside tests and hooks, once the file's `before` hook has started it. */
  readonly server: TestHomeserver;
  /** A client of that server; it may be taken when the file loads, but only sends from inside tests and hooks. */
  readonly api: TestClient;
  readonly rooms: RoomTestClient;
}

export interface TestHomeserverOptions {
  /** Settings on top of TEST_VARS. */
  vars?: Record<string, string>;
  /** Runs in the `after` hook before the server stops (e.g. stopping SDK clients that would go on syncing against it). */
  beforeStop?: () => void;
}

/**
 * Starts a homeserver in a `before` hook of the calling test file and stops it in an `after` hook.
 * node:test runs `after` hooks in the order they were registered, so anything that must end before the
 * server does belongs in `beforeStop`, not in an `after` hook of the file's own.
 */
export function useTestHomeserver(options: TestHomeserverOptions = {}): TestHomeserverFixture {
  let started: TestHomeserver | undefined;
  const server = (): TestHomeserver => {
    if (!started) throw new Error("the test homeserver starts in a before hook: use it inside tests and hooks");
    return started;
  };
  before(async () => {
    started = await startTestHomeserver(options.vars);
  });
  after(async () => {
    options.beforeStop?.();
    await started?.stop();
  });
  const api = new TestClient(() => server().url);
  return {
    get server() {
      return server();
    },
    api,
    rooms: new RoomTestClient(api),
  };
}
