/**
 * A homeserver for one test file: the same launcher as `npm start`, on a free port with its own data
 * directory. With TEST_DATABASE_URL set (CI's real PostgreSQL), each server gets a fresh database there
 * instead of the embedded PGlite.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { LogLevel } from "miniflare";
import pg from "pg";
import { startHomeserver, type RunningHomeserver } from "../../scripts/lib/homeserver";
import { freePort } from "../../scripts/lib/postgres";
import { UNTHROTTLED_VARS } from "../../scripts/lib/settings";

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
