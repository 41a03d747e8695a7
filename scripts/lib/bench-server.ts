/**
 * The homeserver under benchmark, in a process of its own (so its memory and CPU are not the load
 * generator's): the same launcher as `npm start`, configured by scripts/bench.ts through the
 * environment. Prints `BENCH_READY <url>` once it serves, and stops cleanly on SIGTERM or SIGINT.
 */
import { LogLevel } from "miniflare";
import { startHomeserver, stopOnSignals } from "./homeserver";

const vars = JSON.parse(process.env.BENCH_SERVER_VARS ?? "{}") as Record<string, string>;
const server = await startHomeserver({
  port: Number(process.env.BENCH_SERVER_PORT),
  host: "127.0.0.1",
  dataDir: process.env.BENCH_SERVER_DATA_DIR ?? "",
  databaseUrl: process.env.BENCH_SERVER_DATABASE_URL,
  vars,
  workerLogLevel: process.env.BENCH_WORKER_LOGS === "1" ? LogLevel.INFO : LogLevel.WARN,
  log: (text) => console.log(text),
});
console.log(`BENCH_READY ${server.url}`);

stopOnSignals(server);
