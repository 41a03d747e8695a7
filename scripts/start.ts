/**
 * `npm start`: a working homeserver on http://127.0.0.1:8008 with nothing to set up by hand.
 * Environment: PORT, SERVER_NAME, DATABASE_URL, ENABLE_REGISTRATION, REGISTRATION_SHARED_SECRET, DATA_DIR,
 * and every Worker setting listed in README.md (passed through to the Worker).
 */
import { resolve } from "node:path";
import { WORKER_SETTING_NAMES } from "./lib/settings";
import { startHomeserver, stopOnSignals } from "./lib/homeserver";

const vars: Record<string, string> = {};
for (const name of WORKER_SETTING_NAMES) {
  const value = process.env[name];
  if (value !== undefined && name !== "DATABASE_URL") vars[name] = value;
}

const server = await startHomeserver({
  port: Number(process.env.PORT ?? 8008),
  host: process.env.BIND_ADDRESS ?? "127.0.0.1",
  dataDir: resolve(process.env.DATA_DIR ?? ".data"),
  databaseUrl: process.env.DATABASE_URL || undefined,
  vars,
  log: (line) => console.log(line),
});
console.log(`homeserver ${vars.SERVER_NAME ?? "localhost"} listening on ${server.url}`);

stopOnSignals(server);
