/** matrix-js-sdk clients for tests, with the SDK's own logging kept to errors. */
import { createClient, type ICreateClientOpts, type MatrixClient } from "matrix-js-sdk";
import type { Logger } from "matrix-js-sdk/lib/logger.js";

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
