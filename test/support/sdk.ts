/** matrix-js-sdk clients for tests, with the SDK's own logging kept to errors, and waiting on what they see. */
import { ClientEvent, SyncState, createClient, type ICreateClientOpts, type MatrixClient, type MatrixEvent } from "matrix-js-sdk";
import type { Logger } from "matrix-js-sdk/lib/logger.js";

/**
 * matrix-js-sdk 43 calls Promise.withResolvers (e.g. in uploadContent), which Node 20 lacks; the project
 * supports Node 20, so tests provide it.
 */
const promiseConstructor = Promise as PromiseConstructor & { withResolvers?: unknown };
promiseConstructor.withResolvers ??= function withResolvers<T>() {
  let resolve: (value: T | PromiseLike<T>) => void = () => undefined;
  let reject: (reason?: unknown) => void = () => undefined;
  const promise = new Promise<T>((resolvePromise, rejectPromise) => {
    resolve = resolvePromise;
    reject = rejectPromise;
  });
  return { promise, resolve, reject };
};

/**
 * matrix-js-sdk arms timers that outlive a stopped client (request timeouts of up to 110 s, a five-minute
 * watch over events it could not decrypt yet, crypto retries with backoff). Unreferenced, they no longer
 * keep a test file's process alive once its tests and its homeserver are done. (node:test's
 * --test-force-exit would end the process instead, but it loses test verdicts: nodejs/node#64833.)
 */
function unreferencedWhenFromSdk<F extends (...args: never[]) => NodeJS.Timeout>(arm: F): F {
  return ((...args: Parameters<F>) => {
    const timer = arm(...args);
    if (new Error().stack?.includes("matrix-js-sdk")) timer.unref();
    return timer;
  }) as F;
}
globalThis.setTimeout = unreferencedWhenFromSdk(globalThis.setTimeout);
globalThis.setInterval = unreferencedWhenFromSdk(globalThis.setInterval);

const ignore = (): void => undefined;
const quietLogger: Logger = {
  trace: ignore,
  debug: ignore,
  info: ignore,
  warn: ignore,
  error: (...message: unknown[]) => console.error(...message),
  getChild: () => quietLogger,
};

export function createTestClient(options: ICreateClientOpts): MatrixClient {
  return createClient({ logger: quietLogger, ...options });
}

/** Polls `probe` until it returns something other than undefined. */
export async function waitFor<T>(what: string, probe: () => T | undefined | Promise<T | undefined>, timeoutMs = 30_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/** Gives `client` Rust crypto (in memory) and starts it syncing; its first sync, awaited here, shows `initialSyncLimit` events of each room. */
export async function startWithRustCrypto(client: MatrixClient, initialSyncLimit: number): Promise<void> {
  await client.initRustCrypto({ useIndexedDB: false });
  const prepared = new Promise<void>((resolve) => {
    const onSync = (state: SyncState) => {
      if (state !== SyncState.Prepared) return;
      client.off(ClientEvent.Sync, onSync);
      resolve();
    };
    client.on(ClientEvent.Sync, onSync);
  });
  await client.startClient({ initialSyncLimit });
  await prepared;
}

/** The decrypted bodies of the encrypted messages in a room's live timeline. */
export async function decryptedBodies(client: MatrixClient, roomId: string): Promise<string[]> {
  const events: MatrixEvent[] = client.getRoom(roomId)?.getLiveTimeline().getEvents() ?? [];
  const bodies: string[] = [];
  for (const event of events) {
    if (event.getWireType() !== "m.room.encrypted") continue;
    await client.decryptEventIfNeeded(event);
    if (event.isDecryptionFailure()) continue;
    const body = event.getContent()["body"];
    if (typeof body === "string") bodies.push(body);
  }
  return bodies;
}
