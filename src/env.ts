import type { RateLimiter } from "../durable-objects/rate-limiter";
import type { UserSessions } from "../durable-objects/user-sessions";

/** The bindings and variables the Worker and its Durable Objects receive (see wrangler.toml and README.md). */
export interface Env {
  USER_SESSIONS: DurableObjectNamespace<UserSessions>;
  RATE_LIMITER: DurableObjectNamespace<RateLimiter>;
  [variable: string]: unknown;
}
