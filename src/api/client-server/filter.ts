/** Filters (spec: "Filtering"): POST /user/{userId}/filter and GET /user/{userId}/filter/{filterId}. */
import { and, eq, sql } from "drizzle-orm";
import type { Context, Hono } from "hono";
import type { Database } from "../../db/client";
import { userFilters } from "../../db/schema";
import { requireAuth } from "../../http/authentication";
import type { AppEnv } from "../../http/context";
import { MatrixError, forbidden, notFound } from "../../http/errors";
import { readJsonObject } from "../../http/request-body";
import { parseFilter, type Filter } from "../../sync/filters";

function ownUser(c: Context<AppEnv>): string {
  const userId = c.req.param("userId") ?? "";
  if (userId !== c.get("requester").userId) throw forbidden("Cannot use filters of other users");
  return userId;
}

/** Filters never change once created, so a stored one can be cached for the isolate's lifetime. */
const filterCache = new Map<string, Filter>();
const FILTER_CACHE_LIMIT = 10_000;

/** A stored filter of `userId`, or undefined if there is none with that ID. */
export async function loadFilter(db: Database, userId: string, filterId: string): Promise<Filter | undefined> {
  if (!/^[0-9]{1,9}$/.test(filterId)) return undefined;
  const cacheKey = `${userId}\u0000${filterId}`;
  const cached = filterCache.get(cacheKey);
  if (cached) return cached;
  const [row] = await db
    .select({ definition: userFilters.definition })
    .from(userFilters)
    .where(and(eq(userFilters.userId, userId), eq(userFilters.filterId, Number(filterId))));
  if (!row) return undefined;
  const filter = parseFilter(row.definition);
  if (filterCache.size >= FILTER_CACHE_LIMIT) filterCache.clear();
  filterCache.set(cacheKey, filter);
  return filter;
}

export function registerFilterRoutes(client: Hono<AppEnv>): void {
  client.post("/user/:userId/filter", requireAuth, async (c) => {
    const userId = ownUser(c);
    const filter = parseFilter(await readJsonObject(c));
    const db = c.get("database").db;
    // Filter IDs count up per user; the primary key turns a concurrent duplicate into a retry.
    for (let attempt = 0; attempt < 10; attempt++) {
      const [inserted] = await db
        .insert(userFilters)
        .values({
          userId,
          filterId: sql`(SELECT COALESCE(MAX(${userFilters.filterId}), -1) + 1 FROM ${userFilters} WHERE ${userFilters.userId} = ${userId})`,
          definition: filter,
        })
        .onConflictDoNothing()
        .returning({ filterId: userFilters.filterId });
      if (inserted) return c.json({ filter_id: String(inserted.filterId) });
    }
    throw new MatrixError(503, "M_UNKNOWN", "Too many concurrent filter uploads; try again");
  });

  client.get("/user/:userId/filter/:filterId", requireAuth, async (c) => {
    const userId = ownUser(c);
    const filter = await loadFilter(c.get("database").db, userId, c.req.param("filterId"));
    if (!filter) throw notFound("No such filter");
    return c.json(filter);
  });
}
