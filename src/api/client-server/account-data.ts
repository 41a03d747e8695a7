/** Client config (spec: "Client Config"): global and per-room account data. */
import type { Context, Hono } from "hono";
import { GLOBAL, readAccountData, writeAccountData } from "../../accounts/account-data";
import type { JsonObject } from "../../core/events/pdu";
import { isValidRoomId } from "../../core/identifiers";
import { requireAuth } from "../../http/authentication";
import type { AppEnv } from "../../http/context";
import { MatrixError, forbidden, invalidParam, notFound } from "../../http/errors";
import { readJsonObject } from "../../http/request-body";

/** Types the server maintains itself; clients set them through their own endpoints. */
const SERVER_MANAGED_TYPES = new Set(["m.fully_read", "m.push_rules"]);

/** The user a request's account data belongs to: only ever the requester. */
export function ownUserId(c: Context<AppEnv>): string {
  const userId = c.req.param("userId");
  if (userId !== c.get("requester").userId) throw forbidden("Cannot access account data of other users.");
  return userId;
}

export function validRoomIdParam(c: Context<AppEnv>): string {
  const roomId = c.req.param("roomId") ?? "";
  if (!isValidRoomId(roomId)) throw invalidParam(`Invalid room ID: ${roomId}`);
  return roomId;
}

async function putAccountData(c: Context<AppEnv>, roomId: string): Promise<Response> {
  const userId = ownUserId(c);
  const type = c.req.param("type") ?? "";
  if (SERVER_MANAGED_TYPES.has(type)) {
    throw new MatrixError(405, "M_BAD_JSON", `Cannot set ${type} through the account data API`);
  }
  const content = (await readJsonObject(c)) as JsonObject;
  await writeAccountData(c, userId, roomId, type, content);
  return c.json({});
}

async function getAccountData(c: Context<AppEnv>, roomId: string): Promise<Response> {
  const content = await readAccountData(c.get("database").db, ownUserId(c), roomId, c.req.param("type") ?? "");
  if (content === undefined) throw notFound("Account data not found");
  return c.json(content);
}

export function registerAccountDataRoutes(client: Hono<AppEnv>): void {
  client.get("/user/:userId/account_data/:type", requireAuth, (c) => getAccountData(c, GLOBAL));
  client.put("/user/:userId/account_data/:type", requireAuth, (c) => putAccountData(c, GLOBAL));
  client.get("/user/:userId/rooms/:roomId/account_data/:type", requireAuth, (c) => getAccountData(c, validRoomIdParam(c)));
  client.put("/user/:userId/rooms/:roomId/account_data/:type", requireAuth, (c) => putAccountData(c, validRoomIdParam(c)));
}
