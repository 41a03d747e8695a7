/** matrix-js-sdk clients for tests, with the SDK's own logging kept to errors. */
import { createClient, type ICreateClientOpts, type MatrixClient } from "matrix-js-sdk";
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
