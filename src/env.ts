import type { RateLimiter } from "../durable-objects/rate-limiter";
import type { Room } from "../durable-objects/room";
import type { UserSessions } from "../durable-objects/user-sessions";
import type { UserSync } from "../durable-objects/user-sync";

/** The bindings and variables the Worker and its Durable Objects receive (see wrangler.toml and README.md). */
export interface Env {
  USER_SESSIONS: DurableObjectNamespace<UserSessions>;
  RATE_LIMITER: DurableObjectNamespace<RateLimiter>;
  /** One Room per room, addressed by `idFromName(roomId)`. */
  ROOMS: DurableObjectNamespace<Room>;
  /** Media bytes and cached thumbnails (metadata lives in Postgres). */
  MEDIA: R2Bucket;
  /** One UserSync per user, addressed by `idFromName(userId)`: the user's sync stream and long-poll waits. */
  USER_SYNC: DurableObjectNamespace<UserSync>;
  [variable: string]: unknown;
}
