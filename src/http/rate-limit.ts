/** Rate limiting through the RateLimiter Durable Object, answering M_LIMIT_EXCEEDED with retry_after_ms. */
import type { Context } from "hono";
import type { RateLimitSetting } from "../config";
import type { AppEnv } from "./context";
import { limitExceeded } from "./errors";

export function clientAddress(c: Context<AppEnv>): string {
  return c.req.header("cf-connecting-ip") ?? c.req.header("x-forwarded-for")?.split(",")[0]?.trim() ?? "local";
}

/** Takes `cost` from the bucket `key` (cost 0 only checks that the bucket is not empty). */
export async function enforceRateLimit(
  c: Context<AppEnv>,
  key: string,
  setting: RateLimitSetting,
  cost = 1,
): Promise<void> {
  const limiter = c.env.RATE_LIMITER.get(c.env.RATE_LIMITER.idFromName(key));
  const verdict = await limiter.take(setting.perSecond, setting.burst, cost);
  if (!verdict.allowed) throw limitExceeded(verdict.retryAfterMs);
}
