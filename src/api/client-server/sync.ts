/**
 * GET /sync (spec: "Syncing"). The user's UserSync stream says which rooms changed since the token
 * (or where every room stands, for an initial sync); the rooms are then asked in parallel, each for
 * exactly its range, so nothing is missed or sent twice between two syncs. The same object holds the
 * device's to-device messages and one-time key counts and the device list changes, so the end-to-end
 * encryption parts of the response need no Postgres query either.
 */
import type { Hono } from "hono";
import { readAllAccountData } from "../../accounts/account-data";
import { pushRulesAccountData, readPushRuleChanges } from "../../accounts/push-rules";
import type { JsonObject } from "../../core/events/pdu";
import { requireAuth } from "../../http/authentication";
import type { AppEnv } from "../../http/context";
import { invalidParam, notFound } from "../../http/errors";
import type { ClientEvent } from "../../rooms/client-event";
import { filterAllowsRoom, type RoomEventFilter } from "../../rooms/event-filter";
import { unwrapRoomResult } from "../../rooms/room-rpc";
import { roomStub } from "../../rooms/room-stub";
import { PRESENCE_STATES, presenceContent, publishPresence } from "../../sync/presence";
import { userSyncStub } from "../../sync/user-sync-stub";
import type { PresenceState, PresenceUpdate } from "../../../durable-objects/user-sync";
import { inlineFilterFromParam, type Filter } from "../../sync/filters";
import type { RoomSyncRequest, RoomSyncResult } from "../../sync/room-sync";
import type { DeviceLists, DeviceNews, StreamRange } from "../../../durable-objects/user-sync";
import { oneTimeKeyCountsForClients } from "../../e2ee/device-keys";
import { localUsersSharingRoomsWith } from "../../keys/device-lists";
import { loadFilter } from "./filter";

const DEFAULT_TIMELINE_LIMIT = 10;
const MAX_TIMELINE_LIMIT = 100;

export function encodeSyncToken(position: number): string {
  return `s${position}`;
}

export function decodeSyncToken(token: string): number {
  const match = /^s(0|[1-9][0-9]{0,15})$/.exec(token);
  if (!match) throw invalidParam("Invalid since token");
  return Number(match[1]);
}

/** A room to ask, with what to ask it for. */
interface RoomQuery {
  roomId: string;
  membership: string;
  events?: StreamRange;
  receipts?: StreamRange;
  typing: boolean;
  fullState: boolean;
}

type SyncedEvent = Omit<ClientEvent, "room_id">;

/** Sync sends events per room, so the room ID each event repeats is left out (ClientEventWithoutRoomID). */
function withoutRoomId(event: ClientEvent): SyncedEvent {
  const { room_id: _roomId, ...rest } = event;
  return rest;
}

function accountDataEvents(entries: { type: string; content: JsonObject }[]): { events: { type: string; content: JsonObject }[] } {
  return { events: entries.map(({ type, content }) => ({ type, content })) };
}

export function registerSyncRoutes(client: Hono<AppEnv>): void {
  client.get("/sync", requireAuth, async (c) => {
    const requester = c.get("requester");
    const since = c.req.query("since");
    const timeoutText = c.req.query("timeout") ?? "0";
    const timeoutMs = Number(timeoutText);
    if (!Number.isFinite(timeoutMs) || timeoutMs < 0) throw invalidParam("timeout must be a non-negative number");
    const fullState = c.req.query("full_state") === "true";

    const filterParam = c.req.query("filter");
    let filter: Filter = {};
    if (filterParam !== undefined && filterParam !== "") {
      const loaded = inlineFilterFromParam(filterParam) ?? (await loadFilter(c.get("database").db, requester.userId, filterParam));
      if (loaded === undefined) throw notFound("No such filter");
      filter = loaded;
    }
    const roomFilter = filter.room ?? {};
    const timelineFilter: RoomEventFilter = roomFilter.timeline ?? {};
    const timelineLimit = Math.min(Math.max(timelineFilter.limit ?? DEFAULT_TIMELINE_LIMIT, 1), MAX_TIMELINE_LIMIT);
    const includeLeave = roomFilter.include_leave === true;
    const roomSelected = (roomId: string) =>
      filterAllowsRoom({ rooms: roomFilter.rooms, not_rooms: roomFilter.not_rooms }, roomId);

    const stream = userSyncStub(c.env, requester.userId);
    const config = c.get("config");
    const setPresence = c.req.query("set_presence") ?? "online";
    if (!(PRESENCE_STATES as readonly string[]).includes(setPresence)) throw invalidParam("Invalid set_presence");
    if (config.presenceEnabled) {
      // Syncing is what keeps a user online; only a change is handed on (off the response's path).
      const changed = await stream.setOwnPresence(setPresence as PresenceState["presence"], undefined, true);
      if (changed !== undefined) c.executionCtx.waitUntil(publishPresence(c.env, config, requester.userId, changed));
    }
    let presenceUpdates: PresenceUpdate[] = [];
    let position: number;
    let queries: RoomQuery[];
    let globalAccountData: { type: string; content: JsonObject }[];
    const roomAccountData = new Map<string, { type: string; content: JsonObject }[]>();
    /** The user's membership in rooms whose account data changed. */
    const roomMemberships = new Map<string, string>();
    const addRoomAccountData = (roomId: string, entry: { type: string; content: JsonObject }) => {
      roomAccountData.set(roomId, [...(roomAccountData.get(roomId) ?? []), entry]);
    };

    let deviceNews: DeviceNews;
    let deviceLists: DeviceLists = { changed: [], left: [] };
    const sinceToken = since === undefined ? undefined : decodeSyncToken(since);
    const changes = sinceToken !== undefined && !fullState ? await stream.changesSince(sinceToken, timeoutMs, requester.deviceId) : undefined;
    // Initial, full_state, or a token older than the stream keeps: every room with its full state.
    const complete = changes === undefined || changes.expired;
    if (complete) {
      const snapshot = await stream.snapshot(requester.deviceId, sinceToken);
      position = snapshot.position;
      deviceNews = snapshot.device;
      presenceUpdates = snapshot.presence;
      queries = snapshot.rooms
        .filter((room) => includeLeave || (room.membership !== "leave" && room.membership !== "ban"))
        .map((room) => ({
          roomId: room.roomId,
          membership: room.membership,
          events: { from: 0, to: room.eventsPosition },
          receipts: { from: 0, to: room.receiptsPosition },
          typing: true,
          fullState: true,
        }));
      const db = c.get("database").db;
      const [allAccountData, pushRuleChanges] = await Promise.all([
        readAllAccountData(db, requester.userId),
        readPushRuleChanges(db, requester.userId),
      ]);
      globalAccountData = [
        { type: "m.push_rules", content: pushRulesAccountData(requester.userId, pushRuleChanges) },
        ...allAccountData.filter((entry) => entry.roomId === ""),
      ];
      for (const entry of allAccountData) if (entry.roomId !== "") addRoomAccountData(entry.roomId, entry);
      if (changes?.expired === true) {
        // Whatever device list changes the client missed are gone with the stream: it must re-query them all.
        deviceLists = { changed: await localUsersSharingRoomsWith(db, config.serverName, requester.userId), left: [] };
      }
    } else {
      position = changes.position;
      deviceNews = changes.device;
      deviceLists = changes.deviceLists;
      presenceUpdates = changes.presence;
      queries = changes.rooms.map((room) => ({
        roomId: room.roomId,
        membership: room.membership,
        events: room.events,
        receipts: room.receipts,
        typing: room.typing,
        fullState: false,
      }));
      globalAccountData = changes.accountData.filter((entry) => entry.roomId === "");
      for (const entry of changes.accountData) {
        if (entry.roomId === "") continue;
        addRoomAccountData(entry.roomId, entry);
        if (entry.membership !== undefined) roomMemberships.set(entry.roomId, entry.membership);
      }
    }

    const selected = queries.filter((query) => roomSelected(query.roomId));
    const results = await Promise.all(
      selected.map(async (query): Promise<[RoomQuery, RoomSyncResult]> => {
        const request: RoomSyncRequest = {
          ...query,
          userId: requester.userId,
          deviceId: requester.deviceId,
          timelineLimit,
          timelineFilter,
          stateFilter: roomFilter.state ?? {},
          ephemeralFilter: roomFilter.ephemeral ?? {},
        };
        return [query, unwrapRoomResult(await roomStub(c, query.roomId).syncRoom(request))];
      }),
    );

    const join: Record<string, unknown> = {};
    const invite: Record<string, unknown> = {};
    const leave: Record<string, unknown> = {};
    const knock: Record<string, unknown> = {};
    for (const [query, result] of results) {
      const accountData = accountDataEvents(roomAccountData.get(query.roomId) ?? []);
      const timeline = result.timeline && {
        events: result.timeline.events.map(withoutRoomId),
        limited: result.timeline.limited,
        prev_batch: result.timeline.prevBatch,
      };
      const state = { events: (result.state ?? []).map(withoutRoomId) };
      switch (result.membership) {
        case "join":
          join[query.roomId] = {
            timeline: timeline ?? { events: [], limited: false },
            state,
            ephemeral: { events: result.ephemeral },
            account_data: accountData,
            summary: result.summary ?? {},
            unread_notifications: result.unreadNotifications ?? { notification_count: 0, highlight_count: 0 },
          };
          break;
        case "invite":
          invite[query.roomId] = { invite_state: { events: result.strippedState ?? [] } };
          break;
        case "knock":
          knock[query.roomId] = { knock_state: { events: result.strippedState ?? [] } };
          break;
        default:
          leave[query.roomId] = { timeline: timeline ?? { events: [], limited: false }, state, account_data: accountData };
      }
    }
    // Room account data of rooms with no other news still has to reach the client, in the section of the
    // user's membership (invited and knocking users' rooms carry none; rooms the user never was in, neither).
    for (const [roomId, entries] of roomAccountData) {
      if (!roomSelected(roomId) || join[roomId] || leave[roomId] || invite[roomId] || knock[roomId]) continue;
      if (complete) continue;
      const membership = roomMemberships.get(roomId);
      const emptyTimeline = { events: [], limited: false };
      if (membership === "join") {
        join[roomId] = { account_data: accountDataEvents(entries), timeline: emptyTimeline, state: { events: [] }, ephemeral: { events: [] } };
      } else if ((membership === "leave" || membership === "ban") && includeLeave) {
        leave[roomId] = { account_data: accountDataEvents(entries), timeline: emptyTimeline, state: { events: [] } };
      }
    }

    return c.json({
      next_batch: encodeSyncToken(position),
      rooms: { join, invite, leave, knock },
      account_data: accountDataEvents(globalAccountData),
      ...(config.presenceEnabled
        ? {
            presence: {
              events: presenceUpdates.map((update) => ({
                type: "m.presence",
                sender: update.userId,
                content: presenceContent(update.state, Date.now()),
              })),
            },
          }
        : {}),
      to_device: { events: deviceNews.toDevice },
      device_lists: deviceLists,
      device_one_time_keys_count: oneTimeKeyCountsForClients(deviceNews.keyCounts.counts),
      device_unused_fallback_key_types: deviceNews.keyCounts.unusedFallbackTypes,
    });
  });
}
