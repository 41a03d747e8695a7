/**
 * `npm test`: type checks, then every test file under test/ with Node's test runner. Integration tests
 * start their own homeservers (embedded Postgres unless TEST_DATABASE_URL names a real one).
 * `npm test -- test/unit` runs only the files under the given paths.
 */
import { spawnSync } from "node:child_process";
import { readdirSync, statSync } from "node:fs";
import { join, relative } from "node:path";
import { fileURLToPath } from "node:url";
import { buildWorker } from "./lib/homeserver";

const ROOT = fileURLToPath(new URL("..", import.meta.url));
const bin = (name: string) => join(ROOT, "node_modules", ".bin", name);

function run(command: string, args: string[], env: NodeJS.ProcessEnv = process.env): void {
  const result = spawnSync(command, args, { cwd: ROOT, stdio: "inherit", env });
  if (result.status !== 0) process.exit(result.status ?? 1);
}

function testFiles(path: string): string[] {
  if (statSync(path).isFile()) return path.endsWith(".test.ts") ? [path] : [];
  return readdirSync(path)
    .sort()
    .flatMap((entry) => (entry === "support" ? [] : testFiles(join(path, entry))));
}

console.log("type checking…");
run(bin("tsc"), ["--noEmit", "-p", "."]);
run(bin("tsc"), ["--noEmit", "-p", "test"]);

const roots = process.argv.slice(2).length > 0 ? process.argv.slice(2) : ["test/unit", "test/integration"];
const files = roots.flatMap((root) => testFiles(join(ROOT, root))).map((file) => relative(ROOT, file));
console.log("building the worker…");
await buildWorker();
console.log(`running ${files.length} test files${process.env.TEST_DATABASE_URL ? " against TEST_DATABASE_URL" : ""}…`);
// No --test-force-exit: with several files at once it silently drops test verdicts (nodejs/node#64833).
// matrix-js-sdk's lingering timers are unreferenced by test/support/sdk.ts instead.
run(process.execPath, ["--import", "tsx", "--test", "--test-timeout=300000", ...files], {
  ...process.env,
  HOMESERVER_PREBUILT: "1",
  WRANGLER_SEND_METRICS: "false",
  CLOUDFLARE_CF_FETCH_ENABLED: "false",
});
