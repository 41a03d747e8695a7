/**
 * Reaching a user's UserSync Durable Object. Typed by its RPC interface (as rooms are, see room-rpc.ts):
 * deriving the stub type from the class makes TypeScript expand the recursive JSON of account data
 * without end.
 */
import type {
  DeviceLists,
  ExpiredToken,
  OneTimeKeyCounts,
  PresenceState,
  PresenceUpdate,
  RoomNotice,
  StreamChanges,
  StreamSnapshot,
  ToDeviceDelivery,
  ToDevicePage,
} from "../../durable-objects/user-sync";
import type { JsonObject } from "../core/events/pdu";
import type { Env } from "../env";

export interface UserSyncApi {
  roomsUpdated(notices: RoomNotice[]): Promise<void>;
  accountDataChanged(roomId: string, type: string, content: JsonObject): Promise<void>;
  deviceListsChanged(userIds: string[]): Promise<void>;
  deliverToDevice(messages: ToDeviceDelivery[]): Promise<void>;
  hasToDeviceTransaction(deviceId: string, txnId: string): Promise<boolean>;
  recordToDeviceTransaction(deviceId: string, txnId: string): Promise<void>;
  setOneTimeKeyCounts(deviceId: string, version: number, counts: OneTimeKeyCounts): Promise<void>;
  deviceAdded(deviceId: string): Promise<void>;
  devicesRemoved(deviceIds: string[]): Promise<void>;
  snapshot(deviceId: string, acknowledged?: number): Promise<StreamSnapshot>;
  changesSince(since: number, timeoutMs: number, deviceId: string): Promise<StreamChanges | ExpiredToken>;
  deviceListsBetween(from: number, to: number): Promise<DeviceLists | ExpiredToken>;
  toDevicePage(deviceId: string, after: number, limit: number): Promise<ToDevicePage>;
  presenceOf(userId: string): Promise<PresenceState | undefined>;
  presenceChanged(update: PresenceUpdate): Promise<void>;
  setOwnPresence(presence: PresenceState["presence"], statusMsg: string | undefined, fromSync: boolean): Promise<PresenceState | undefined>;
}

export function userSyncStub(env: Env, userId: string): UserSyncApi {
  const stub: DurableObjectStub = env.USER_SYNC.get(env.USER_SYNC.idFromName(userId));
  return stub as unknown as UserSyncApi;
}
