/** The Hono environment every route handler shares: bindings plus per-request variables. */
import type { Config } from "../config";
import type { DatabaseHandle } from "../db/client";
import type { Env } from "../env";

/** Who made an authenticated request. */
export interface Requester {
  userId: string;
  deviceId: string;
  accessTokenHash: string;
  isGuest: boolean;
}

export interface AppEnv {
  Bindings: Env;
  Variables: {
    config: Config;
    database: DatabaseHandle;
    requester: Requester;
  };
}
