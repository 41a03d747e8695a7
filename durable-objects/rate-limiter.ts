/**
 * RateLimiter: token buckets keyed by action and requester (e.g. `login:203.0.113.7`), one Durable Object
 * per key so that every Worker isolate shares the same count. State is in memory on purpose: a limiter
 * that forgets after an eviction errs towards letting a user in.
 */
import { DurableObject } from "cloudflare:workers";
import type { Env } from "../src/env";

export interface RateLimitVerdict {
  allowed: boolean;
  retryAfterMs: number;
}

export class RateLimiter extends DurableObject<Env> {
  private tokens = Number.NaN;
  private updatedAt = 0;

  /** Takes `cost` tokens from a bucket of `burst` that refills at `perSecond`; `cost` 0 only peeks. */
  async take(perSecond: number, burst: number, cost = 1): Promise<RateLimitVerdict> {
    const now = Date.now();
    const capacity = Math.max(burst, 1);
    this.tokens = Number.isNaN(this.tokens)
      ? capacity
      : Math.min(capacity, this.tokens + ((now - this.updatedAt) / 1000) * perSecond);
    this.updatedAt = now;
    const needed = Math.max(cost, 1);
    if (this.tokens >= needed) {
      this.tokens -= cost;
      return { allowed: true, retryAfterMs: 0 };
    }
    const waitMs = perSecond > 0 ? ((needed - this.tokens) / perSecond) * 1000 : 60 * 60 * 1000;
    return { allowed: false, retryAfterMs: Math.ceil(waitMs) };
  }
}
