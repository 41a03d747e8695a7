/**
 * `npm run bench`: where we stand. Starts the homeserver locally on a real PostgreSQL (a private
 * PostgreSQL 15 cluster, or a fresh database in BENCH_DATABASE_URL) in a process of its own, or targets
 * a running homeserver at BENCH_URL (open registration, or BENCH_SHARED_SECRET for Synapse-style
 * shared-secret registration), and prints one line per figure with its median and 95th percentile:
 *
 * - sequential sends (one user, one room, 1,000 messages);
 * - 20 users sending into one room for 10 s, with every client reading the room through incremental
 *   /sync (and then /messages) and a check that each saw every event exactly once in one identical order;
 * - wake-up latency: from a send returning to another member's waiting long-poll /sync returning;
 * - room creation and join rates, and sends spread over 200 rooms;
 * - initial /sync of a user in 200 rooms with 50 messages each, and incremental /syncs;
 * - peak memory (RSS) of the server's processes (our server, or BENCH_PID's process tree).
 *
 * Targets are printed next to the figures, never asserted. The run exits 1 only when a delivery or
 * ordering violation was seen, or requests failed for good (or the benchmark itself failed). Traffic
 * goes to loopback addresses only, every loop is bounded in count and time, and the whole run stays
 * within a few minutes.
 *
 * Environment: BENCH_URL, BENCH_SHARED_SECRET, BENCH_PID (with BENCH_URL), BENCH_DATABASE_URL,
 * BENCH_WORKER_LOGS=1 (keep the Worker's per-request log, at LogLevel.INFO, in a file), BENCH_ONLY
 * (a comma-separated subset of: sequential, wakeup, concurrency, rooms), BENCH_KEEPALIVE=0 (one
 * connection per request instead of keep-alive).
 */
import { UNTHROTTLED_VARS } from "./lib/settings";
import { spawn, type ChildProcess } from "node:child_process";
import { existsSync, mkdtempSync, rmSync, createWriteStream } from "node:fs";
import { cpus, tmpdir } from "node:os";
import { join } from "node:path";
import { performance } from "node:perf_hooks";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import { BenchClient, pool, type ClientEvent, type Reply, type SyncBody, type User } from "./lib/bench-client";
import { startBenchPostgres, type BenchPostgres } from "./lib/bench-postgres";
import { MemorySampler, latencies, line, mb, ms, processTree, rate, summarize, verdict, type MemoryReport } from "./lib/bench-stats";
import { buildWorker } from "./lib/homeserver";
import { freePort } from "./lib/postgres";

const ROOT = fileURLToPath(new URL("..", import.meta.url));
/** The whole run gives up after this long, whatever happens. */
const RUN_LIMIT_MS = 12 * 60_000;

const now = () => performance.now();
const sleep = (milliseconds: number) => new Promise((resolve) => setTimeout(resolve, milliseconds));
const seconds = (milliseconds: number) => `${(milliseconds / 1000).toFixed(2)} s`;
const perSecond = (value: number) => value.toFixed(value >= 100 ? 0 : 1);
const progress = (text: string) => process.stderr.write(`  … ${text}\n`);
const print = (text: string) => console.log(text);

/** Delivery and ordering violations: printed loudly, and they make the run exit 1. */
const violations: string[] = [];

function violation(text: string): void {
  violations.push(text);
  print(`!!! VIOLATION: ${text}`);
}

/** Requests that failed for good (after the client's retries): printed loudly, and they make the run exit 1. */
const errors: string[] = [];

function failure(text: string): void {
  errors.push(text);
  print(`!!! ERROR: ${text}`);
}

// ---------------------------------------------------------------------------
// The server under test
// ---------------------------------------------------------------------------

interface Target {
  url: string;
  description: string;
  /** The root of the process tree whose memory is reported, if known. */
  pid?: number;
  stop(): Promise<void>;
}

async function stopChild(child: ChildProcess): Promise<void> {
  if (child.pid === undefined || child.exitCode !== null) return;
  // workerd is the launcher's child: remember the whole tree, so nothing we started outlives the run.
  const tree = processTree(child.pid);
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  child.kill("SIGTERM");
  await Promise.race([exited, sleep(15_000)]);
  await sleep(200);
  for (const pid of tree) {
    if (!existsSync(`/proc/${pid}`)) continue;
    try {
      process.kill(pid, "SIGKILL");
    } catch {
      // already gone
    }
  }
}

async function startOurServer(): Promise<Target> {
  const workDir = mkdtempSync(join(tmpdir(), "bench-homeserver-"));
  const keepLog = process.env.BENCH_WORKER_LOGS === "1";
  let postgres: BenchPostgres | undefined;
  let child: ChildProcess | undefined;
  const logPath = join(workDir, "server.log");
  const stop = async () => {
    if (child !== undefined) await stopChild(child);
    child = undefined;
    await postgres?.stop();
    postgres = undefined;
    if (keepLog) print(`server log (Worker requests at LogLevel.INFO): ${logPath}`);
    else rmSync(workDir, { recursive: true, force: true });
  };
  try {
    progress("starting PostgreSQL…");
    postgres = await startBenchPostgres(progress);
    progress("building the Worker…");
    await buildWorker();
    const port = await freePort();
    const started = now();
    const spawned = spawn(process.execPath, ["--import", "tsx", join(ROOT, "scripts", "lib", "bench-server.ts")], {
      cwd: ROOT,
      stdio: ["ignore", "pipe", "pipe"],
      env: {
        ...process.env,
        HOMESERVER_PREBUILT: "1",
        WRANGLER_SEND_METRICS: "false",
        CLOUDFLARE_CF_FETCH_ENABLED: "false",
        BENCH_SERVER_PORT: String(port),
        BENCH_SERVER_DATA_DIR: join(workDir, "data"),
        BENCH_SERVER_DATABASE_URL: postgres.url,
        BENCH_SERVER_VARS: JSON.stringify(UNTHROTTLED_VARS),
      },
    });
    child = spawned;
    const log = createWriteStream(logPath);
    spawned.stderr?.pipe(log);
    const recent: string[] = [];
    const url = await new Promise<string>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error("the homeserver did not start within 120 s")), 120_000);
      spawned.once("exit", (code) => {
        clearTimeout(timer);
        reject(new Error(`the homeserver exited (${code}) before it was ready:\n${recent.join("\n")}`));
      });
      createInterface({ input: spawned.stdout! }).on("line", (text) => {
        log.write(`${text}\n`);
        recent.push(text);
        if (recent.length > 20) recent.shift();
        const ready = /^BENCH_READY (\S+)/.exec(text);
        if (ready) {
          clearTimeout(timer);
          resolve(ready[1]!);
        }
      });
    });
    progress(`homeserver ready in ${seconds(now() - started)} at ${url}`);
    return {
      url,
      description: `this homeserver (workerd via Miniflare, launcher pid ${spawned.pid}) on ${postgres.description}`,
      ...(spawned.pid === undefined ? {} : { pid: spawned.pid }),
      stop,
    };
  } catch (error) {
    await stop();
    throw error;
  }
}

async function target(): Promise<Target> {
  const url = process.env.BENCH_URL;
  if (url === undefined || url === "") return startOurServer();
  const pid = process.env.BENCH_PID ? Number(process.env.BENCH_PID) : undefined;
  return {
    url: url.replace(/\/$/, ""),
    description: `the running homeserver at ${url}${pid === undefined ? "" : ` (process tree of pid ${pid})`}`,
    ...(pid === undefined ? {} : { pid }),
    stop: async () => undefined,
  };
}

// ---------------------------------------------------------------------------
// Scenarios
// ---------------------------------------------------------------------------

const QUIET_FILTER = { presence: { types: [] }, account_data: { types: [] } };

function roomFilter(roomId: string, timelineLimit: number) {
  return { ...QUIET_FILTER, room: { rooms: [roomId], timeline: { limit: timelineLimit }, account_data: { types: [] } } };
}

function timelineOf(reply: Reply<SyncBody>, roomId: string): ClientEvent[] {
  return reply.body.rooms?.join?.[roomId]?.timeline?.events ?? [];
}

async function sequentialSends(client: BenchClient): Promise<void> {
  const alice = await client.register("seq");
  const roomId = (await client.createRoom(alice, { preset: "private_chat", name: "bench: sequential" })).body.room_id;
  for (let i = 0; i < 20; i++) await client.send(alice, roomId, `warm-up ${i}`);
  const samples: number[] = [];
  const started = now();
  const deadline = started + 60_000;
  for (let i = 0; i < 1000 && now() < deadline; i++) samples.push((await client.send(alice, roomId, `sequential ${i}`)).ms);
  const elapsed = now() - started;
  const sendRate = rate(samples.length, elapsed);
  print(
    line(
      "sequential sends (1 user, 1 room)",
      `${samples.length} msgs in ${seconds(elapsed)}: ${perSecond(sendRate)} msgs/s  ${latencies(summarize(samples))}`,
      verdict("≥ 500 msgs/s", sendRate >= 500),
    ),
  );
}

async function wakeUpLatency(client: BenchClient): Promise<void> {
  const [alice, bob] = await Promise.all([client.register("wake_a"), client.register("wake_b")]);
  const roomId = (await client.createRoom(alice, { preset: "public_chat", name: "bench: wake-up" })).body.room_id;
  await client.join(bob, roomId);
  const filter = roomFilter(roomId, 10);
  let since = (await client.sync(bob, { filter })).body.next_batch;
  // Let the news of the join settle, so each long-poll below waits for the message alone.
  for (let i = 0; i < 10; i++) {
    const reply = await client.sync(bob, { since, timeoutMs: 300, filter });
    since = reply.body.next_batch;
    if (timelineOf(reply, roomId).length === 0) break;
  }
  const fromSendReturn: number[] = [];
  const fromSendStart: number[] = [];
  let early = 0;
  const deadline = now() + 60_000;
  for (let i = 0; i < 200 && now() < deadline; i++) {
    const poll = client.sync(bob, { since, timeoutMs: 30_000, filter });
    await sleep(20); // the long-poll is parked on the server by now
    const sendStart = now();
    const sent = await client.send(alice, roomId, `wake ${i}`);
    let reply = await poll;
    since = reply.body.next_batch;
    if (!timelineOf(reply, roomId).some((event) => event.event_id === sent.body.event_id)) {
      // The poll returned for something else first: not a wake-up sample; catch up and go on.
      early++;
      for (let tries = 0; tries < 5; tries++) {
        reply = await client.sync(bob, { since, timeoutMs: 5_000, filter });
        since = reply.body.next_batch;
        if (timelineOf(reply, roomId).some((event) => event.event_id === sent.body.event_id)) break;
      }
      continue;
    }
    fromSendReturn.push(reply.endedAt - sent.endedAt);
    fromSendStart.push(reply.endedAt - sendStart);
  }
  const wake = summarize(fromSendReturn);
  print(
    line(
      "wake-up: send returns → /sync returns",
      `${latencies(wake)}${early > 0 ? `  (${early} polls returned early, not counted)` : ""}`,
      verdict("p50 ≤ 5 ms", wake.p50 <= 5),
    ),
  );
  print(line("wake-up: send starts → /sync returns", latencies(summarize(fromSendStart))));
}

interface Reader {
  user: User;
  since: string;
  lastSeen: string | undefined;
  /** Every event ID /sync delivered, in delivery order (gaps of limited timelines filled from /messages). */
  seen: Set<string>;
  duplicates: string[];
  /** The benchmark's messages, in delivery order. */
  order: string[];
  syncs: number;
  gapsFilled: number;
  /** /sync requests that failed (and were retried from the same token). */
  syncErrors: string[];
  problems: string[];
  done: boolean;
}

async function concurrency(client: BenchClient): Promise<void> {
  const SENDERS = 20;
  const WINDOW_MS = 10_000;
  const users = await pool(
    Array.from({ length: SENDERS }, (_, i) => i),
    4,
    (i) => client.register(`conc${i}`),
  );
  const owner = users[0]!;
  const roomId = (await client.createRoom(owner, { preset: "public_chat", name: "bench: concurrency" })).body.room_id;
  await pool(users.slice(1), 4, (user) => client.join(user, roomId));
  const filter = roomFilter(roomId, 100);
  const isBenchMessage = (event: ClientEvent) =>
    event.type === "m.room.message" && typeof event.content.body === "string" && event.content.body.startsWith("conc ");

  const readers: Reader[] = await Promise.all(
    users.map(async (user) => {
      const initial = await client.sync(user, { filter });
      return {
        user,
        since: initial.body.next_batch,
        lastSeen: timelineOf(initial, roomId).at(-1)?.event_id,
        seen: new Set<string>(),
        duplicates: [],
        order: [],
        syncs: 0,
        gapsFilled: 0,
        syncErrors: [],
        problems: [],
        done: false,
      };
    }),
  );

  const sentBy: string[][] = users.map(() => []);
  const allSent = new Set<string>();
  const sendSamples: number[] = [];
  const sendErrors: string[] = [];
  let sendersDone = false;
  let drainDeadline = Infinity;

  const deliver = (reader: Reader, events: readonly ClientEvent[]) => {
    for (const event of events) {
      if (reader.seen.has(event.event_id)) reader.duplicates.push(event.event_id);
      reader.seen.add(event.event_id);
      if (isBenchMessage(event)) reader.order.push(event.event_id);
      reader.lastSeen = event.event_id;
    }
  };

  /** A limited timeline skipped events: read them back from /messages, down to the last event seen. */
  const fillGap = async (reader: Reader, prevBatch: string | undefined) => {
    if (prevBatch === undefined) {
      reader.problems.push("a limited timeline came without prev_batch");
      return;
    }
    const gap: ClientEvent[] = [];
    let from = prevBatch;
    for (let page = 0; page < 200; page++) {
      const reply = await client.messages(reader.user, roomId, { dir: "b", from, limit: 100 });
      for (const event of reply.body.chunk) {
        if (event.event_id === reader.lastSeen) {
          deliver(reader, gap.reverse());
          reader.gapsFilled++;
          return;
        }
        gap.push(event);
      }
      if (reply.body.end === undefined || reply.body.chunk.length === 0) break;
      from = reply.body.end;
    }
    reader.problems.push(`a limited timeline's gap never reached the last event seen (${reader.lastSeen})`);
    deliver(reader, gap.reverse());
  };

  const read = async (reader: Reader) => {
    for (;;) {
      if (sendersDone && [...allSent].every((id) => reader.seen.has(id))) break;
      if (now() > drainDeadline) break;
      let reply: Reply<SyncBody>;
      const syncStarted = now();
      try {
        reply = await client.sync(reader.user, { since: reader.since, timeoutMs: sendersDone ? 1_000 : 5_000, filter });
      } catch (error) {
        // A failed /sync is retried from the same token, so it loses nothing; it is still reported.
        reader.syncErrors.push(`${error instanceof Error ? error.message : String(error)} after ${ms(now() - syncStarted)}`);
        if (reader.syncErrors.length >= 50) {
          reader.problems.push(`gave up after ${reader.syncErrors.length} failed /sync requests`);
          break;
        }
        await sleep(100);
        continue;
      }
      reader.syncs++;
      reader.since = reply.body.next_batch;
      const timeline = reply.body.rooms?.join?.[roomId]?.timeline;
      const events = timeline?.events ?? [];
      if (timeline?.limited === true && events.length > 0 && !events.some((event) => event.event_id === reader.lastSeen)) {
        await fillGap(reader, timeline.prev_batch).catch((error: unknown) =>
          reader.problems.push(`filling a limited timeline's gap failed: ${error instanceof Error ? error.message : String(error)}`),
        );
      }
      deliver(reader, events);
    }
    reader.done = true;
  };

  const send = async (index: number, until: number) => {
    const user = users[index]!;
    for (let n = 0; now() < until && n < 100_000; n++) {
      try {
        const reply = await client.send(user, roomId, `conc ${index}/${n}`);
        sentBy[index]!.push(reply.body.event_id);
        allSent.add(reply.body.event_id);
        sendSamples.push(reply.ms);
      } catch (error) {
        sendErrors.push(error instanceof Error ? error.message : String(error));
        await sleep(50);
      }
    }
  };

  const reading = Promise.all(readers.map(read));
  const started = now();
  await Promise.all(users.map((_, index) => send(index, started + WINDOW_MS)));
  const elapsed = now() - started;
  sendersDone = true;
  drainDeadline = now() + 30_000;
  const drainStarted = now();
  await reading;
  const drained = now() - drainStarted;
  const eventRate = rate(allSent.size, elapsed);
  print(
    line(
      `${SENDERS} concurrent senders, 1 room`,
      `${allSent.size} events in ${seconds(elapsed)}: ${perSecond(eventRate)} events/s  send ${latencies(summarize(sendSamples))}`,
      verdict("≥ 1,000 events/s", eventRate >= 1000),
    ),
  );
  if (sendErrors.length > 0) failure(`${sendErrors.length} sends failed, e.g. ${sendErrors[0]}`);

  // Every reader: every event exactly once, one identical order, each sender's events in its send order.
  const before = violations.length;
  const reference = readers[0]!.order;
  for (const [index, reader] of readers.entries()) {
    const who = `reader ${index} (${reader.user.userId})`;
    const missing = [...allSent].filter((id) => !reader.seen.has(id));
    if (missing.length > 0) violation(`${who}: ${missing.length} sent events never delivered by /sync, e.g. ${missing[0]}`);
    if (reader.duplicates.length > 0) violation(`${who}: ${reader.duplicates.length} events delivered twice, e.g. ${reader.duplicates[0]}`);
    const unknown = reader.order.filter((id) => !allSent.has(id));
    if (unknown.length > 0) violation(`${who}: ${unknown.length} benchmark messages delivered that no send returned, e.g. ${unknown[0]}`);
    for (const problem of reader.problems) violation(`${who}: ${problem}`);
    if (index > 0) {
      const diverges = reader.order.findIndex((id, at) => reference[at] !== id);
      if (diverges >= 0 || reader.order.length !== reference.length) {
        const at = diverges >= 0 ? diverges : Math.min(reader.order.length, reference.length);
        violation(`${who}: order differs from reader 0's at position ${at} (${reader.order[at]} vs ${reference[at]})`);
      }
    }
  }
  const senderOf = new Map<string, number>();
  for (const [index, own] of sentBy.entries()) for (const id of own) senderOf.set(id, index);
  const inReference = new Set(reference);
  for (const [index, own] of sentBy.entries()) {
    const delivered = reference.filter((id) => senderOf.get(id) === index);
    if (delivered.join() !== own.filter((id) => inReference.has(id)).join()) {
      violation(`sender ${index}: its events reached reader 0 out of the order they were sent in`);
    }
  }
  const syncErrors = readers.flatMap((reader) => reader.syncErrors);
  if (syncErrors.length > 0) failure(`${syncErrors.length} /sync requests failed (then retried from the same token), e.g. ${syncErrors[0]}`);
  const syncs = readers.reduce((total, reader) => total + reader.syncs, 0);
  const gaps = readers.reduce((total, reader) => total + reader.gapsFilled, 0);
  print(
    line(
      `delivery via /sync (${SENDERS} clients)`,
      violations.length === before
        ? `OK: all ${SENDERS} saw all ${allSent.size} events exactly once, in one identical order ` +
            `(${syncs} syncs, ${gaps} limited gaps filled from /messages, drained ${seconds(drained)} after the last send)`
        : `${violations.length - before} VIOLATIONS (see above)`,
      verdict("0 violations", violations.length === before),
    ),
  );

  // The same check through /messages: every client pages through the whole room, oldest first.
  const beforeMessages = violations.length;
  const deadline = now() + 60_000;
  const histories = await pool(
    readers,
    4,
    async (reader) => {
      const order: string[] = [];
      let from: string | undefined;
      for (let page = 0; page < 200 && now() < deadline; page++) {
        const reply = await client.messages(reader.user, roomId, { dir: "f", limit: 1000, ...(from === undefined ? {} : { from }) });
        order.push(...reply.body.chunk.filter(isBenchMessage).map((event) => event.event_id));
        if (reply.body.end === undefined || reply.body.chunk.length === 0) return order;
        from = reply.body.end;
      }
      return undefined;
    },
    deadline,
  );
  let historyOk = 0;
  for (const [index, order] of histories.entries()) {
    if (order === undefined) {
      print(`    reader ${index}: /messages paging did not finish within the time allowed`);
      continue;
    }
    if (order.join() !== reference.join()) {
      const diverges = order.findIndex((id, at) => reference[at] !== id);
      const at = diverges >= 0 ? diverges : Math.min(order.length, reference.length);
      violation(`reader ${index}: /messages order (${order.length} events) differs from /sync's (${reference.length}) at position ${at}`);
    } else historyOk++;
  }
  print(
    line(
      `delivery via /messages (${SENDERS} clients)`,
      violations.length === beforeMessages
        ? `OK: ${historyOk} of ${SENDERS} paged the whole room and saw the same order as /sync`
        : `${violations.length - beforeMessages} VIOLATIONS (see above)`,
    ),
  );
}

async function manyRooms(client: BenchClient): Promise<void> {
  const ROOMS = 200;
  const MESSAGES = 50;
  const CONCURRENCY = 8;
  const [carol, dave] = await Promise.all([client.register("many"), client.register("joiner")]);

  const createSamples: number[] = [];
  let started = now();
  const created = await pool(
    Array.from({ length: ROOMS }, (_, i) => i),
    CONCURRENCY,
    async (i) => {
      const reply = await client.createRoom(carol, { preset: "public_chat", name: `bench: room ${i}` });
      createSamples.push(reply.ms);
      return reply.body.room_id;
    },
    started + 90_000,
  );
  const roomIds = created.filter((roomId): roomId is string => roomId !== undefined);
  let elapsed = now() - started;
  print(
    line(
      `room creation (${CONCURRENCY} concurrent)`,
      `${roomIds.length} rooms in ${seconds(elapsed)}: ${perSecond(rate(roomIds.length, elapsed))} rooms/s  ${latencies(summarize(createSamples))}`,
    ),
  );

  const joinSamples: number[] = [];
  started = now();
  await pool(roomIds, CONCURRENCY, async (roomId) => joinSamples.push((await client.join(dave, roomId)).ms), started + 90_000);
  elapsed = now() - started;
  print(
    line(
      `room joins (${CONCURRENCY} concurrent)`,
      `${joinSamples.length} joins in ${seconds(elapsed)}: ${perSecond(rate(joinSamples.length, elapsed))} joins/s  ${latencies(summarize(joinSamples))}`,
    ),
  );

  const sendSamples: number[] = [];
  started = now();
  const fillDeadline = started + 120_000;
  await pool(roomIds, 20, async (roomId) => {
    for (let i = 0; i < MESSAGES && now() < fillDeadline; i++) sendSamples.push((await client.send(carol, roomId, `fill ${i}`)).ms);
  });
  elapsed = now() - started;
  print(
    line(
      `sends into ${roomIds.length} rooms (20 concurrent)`,
      `${sendSamples.length} msgs in ${seconds(elapsed)}: ${perSecond(rate(sendSamples.length, elapsed))} msgs/s  ${latencies(summarize(sendSamples))}`,
    ),
  );

  // Initial sync of the user in every room (default filter: 10 timeline events a room).
  const first = await client.sync(carol, {});
  const joined = Object.keys(first.body.rooms?.join ?? {}).length;
  const bytes = Buffer.byteLength(JSON.stringify(first.body));
  const initialSamples: number[] = [];
  const initialDeadline = now() + 60_000;
  let since = first.body.next_batch;
  for (let i = 0; i < 10 && now() < initialDeadline; i++) {
    const reply = await client.sync(carol, {});
    initialSamples.push(reply.ms);
    since = reply.body.next_batch;
  }
  const initial = summarize(initialSamples);
  print(
    line(
      `initial /sync (${joined} rooms × ${MESSAGES} msgs)`,
      `${latencies(initial)}  (${(bytes / 1024).toFixed(0)} KiB)`,
      verdict("< 200 ms", initial.p50 < 200),
    ),
  );
  if (joined !== roomIds.length) print(`    note: the initial /sync listed ${joined} joined rooms, ${roomIds.length} were created`);

  // Incremental sync after one new event in one of the rooms (the news has reached the user's stream).
  const incrementalSamples: number[] = [];
  let missed = 0;
  const incrementalDeadline = now() + 60_000;
  for (let i = 0; i < 30 && now() < incrementalDeadline; i++) {
    const roomId = roomIds[(i * 7) % roomIds.length]!;
    await client.send(dave, roomId, `incremental ${i}`);
    await sleep(20);
    const reply = await client.sync(carol, { since, timeoutMs: 5_000 });
    since = reply.body.next_batch;
    if (reply.body.rooms?.join?.[roomId] === undefined) missed++;
    else incrementalSamples.push(reply.ms);
  }
  print(
    line(
      "incremental /sync (1 new event)",
      `${latencies(summarize(incrementalSamples))}${missed > 0 ? `  (${missed} did not show the new event)` : ""}`,
    ),
  );
  const emptySamples: number[] = [];
  for (let i = 0; i < 30 && now() < incrementalDeadline + 10_000; i++) {
    const reply = await client.sync(carol, { since, timeoutMs: 0 });
    since = reply.body.next_batch;
    emptySamples.push(reply.ms);
  }
  print(line("incremental /sync (nothing new)", latencies(summarize(emptySamples))));
}

function printMemory(report: MemoryReport | undefined): void {
  if (report === undefined) {
    print(line("peak memory (RSS)", "not measured (set BENCH_PID to the server's process id)"));
    return;
  }
  const perProcess = report.processes.map((process) => `${process.name} ${process.pid}: ${mb(process.hwmKb)}`).join(", ");
  print(line("peak memory (RSS), server processes", `${mb(report.peakSampledKb)} (largest sampled sum); per-process VmHWM: ${perProcess}`));
}

// ---------------------------------------------------------------------------

async function main(): Promise<number> {
  const runStarted = now();
  const server = await target();
  let stopped = false;
  const stopServer = async () => {
    if (stopped) return;
    stopped = true;
    await server.stop();
  };
  for (const signal of ["SIGINT", "SIGTERM"] as const) {
    process.once(signal, () => {
      void stopServer().finally(() => process.exit(130));
    });
  }
  // Whatever goes wrong, the server and its PostgreSQL do not outlive the run.
  for (const event of ["uncaughtException", "unhandledRejection"] as const) {
    process.once(event, (error: unknown) => {
      print(`!!! the benchmark crashed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`);
      void stopServer().finally(() => process.exit(1));
    });
  }
  const watchdog = setTimeout(() => {
    print(`!!! the benchmark exceeded ${RUN_LIMIT_MS / 60_000} minutes; stopping`);
    void stopServer().finally(() => process.exit(1));
  }, RUN_LIMIT_MS);

  const sampler = server.pid === undefined ? undefined : new MemorySampler(server.pid);
  const keepAlive = process.env.BENCH_KEEPALIVE !== "0";
  const client = new BenchClient(server.url, {
    keepAlive,
    ...(process.env.BENCH_SHARED_SECRET ? { sharedSecret: process.env.BENCH_SHARED_SECRET } : {}),
  });
  let failed = false;
  try {
    print(`npm run bench, ${new Date().toISOString()}: ${cpus().length} CPUs, Node ${process.version}`);
    print(`target: ${server.description}`);
    const connections = keepAlive ? "keep-alive connections (BENCH_KEEPALIVE=0: one connection per request)" : "one connection per request";
    print(`client: HTTP/1.1 with ${connections}`);
    const scenarios: [string, string, (client: BenchClient) => Promise<void>][] = [
      ["sequential", "sequential sends", sequentialSends],
      ["wakeup", "wake-up latency", wakeUpLatency],
      ["concurrency", "20 concurrent senders", concurrency],
      ["rooms", "200 rooms and /sync", manyRooms],
    ];
    const only = process.env.BENCH_ONLY?.split(",").filter((key) => key !== "");
    for (const [key, name, scenario] of scenarios) {
      if (only !== undefined && only.length > 0 && !only.includes(key)) continue;
      progress(`${name}…`);
      try {
        await scenario(client);
      } catch (error) {
        failed = true;
        print(`!!! ${name} FAILED: ${error instanceof Error ? error.message : String(error)}`);
      }
    }
    printMemory(sampler?.stop());
    if (client.throttled > 0) print(`note: ${client.throttled} requests were rate-limited (429) and retried; the figures include the waits`);
    if (client.resets > 0) {
      print(`note: ${client.resets} requests met a keep-alive connection the server closed or reset, and were retried (their figures include the retry)`);
    }
    if (violations.length > 0) print(`!!! ${violations.length} DELIVERY/ORDERING VIOLATIONS: the run fails`);
    if (errors.length > 0) print(`!!! ${errors.length} kinds of failed requests (see ERROR above): the run fails`);
    print(`bench finished in ${seconds(now() - runStarted)}`);
  } finally {
    client.close();
    clearTimeout(watchdog);
    await stopServer();
  }
  return failed || violations.length > 0 || errors.length > 0 ? 1 : 0;
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    console.error(error instanceof Error ? (error.stack ?? error.message) : error);
    process.exit(1);
  },
);
