/** Reaching a room's Durable Object from a request handler, and the path parameters that name rooms. */
import type { Context } from "hono";
import { parseRoomAlias, parseRoomId } from "../core/identifiers";
import type { AppEnv } from "../http/context";
import { invalidParam } from "../http/errors";
import type { RoomApi, RoomRequester } from "./room-rpc";

/** The room's Durable Object (one per room ID), typed by its RPC interface (see RoomApi). */
export function roomStub(c: Context<AppEnv>, roomId: string): RoomApi {
  const stub: DurableObjectStub = c.env.ROOMS.get(c.env.ROOMS.idFromName(roomId));
  return stub as unknown as RoomApi;
}

/** The authenticated requester in the shape Room calls take. */
export function roomRequester(c: Context<AppEnv>): RoomRequester {
  const { userId, deviceId, isGuest } = c.get("requester");
  return { userId, deviceId, isGuest };
}

/** A room ID from the path (or body); M_INVALID_PARAM unless it is one (either room ID grammar). */
export function requireRoomId(value: string | undefined): string {
  if (value === undefined || parseRoomId(value) === null) throw invalidParam(`Invalid room ID: ${value ?? ""}`);
  return value;
}

/** A room alias from the path; M_INVALID_PARAM unless it is one. */
export function requireRoomAlias(value: string | undefined): string {
  if (value === undefined || parseRoomAlias(value) === null) throw invalidParam(`Invalid room alias: ${value ?? ""}`);
  return value;
}
