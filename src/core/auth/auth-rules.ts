/**
 * The room authorisation rules for room versions 1-12.
 *
 * {@link authorizeEvent} applies the rules that depend on room state (everything except
 * the checks on the `auth_events` list itself), reading state through a lookup function,
 * so the same code authorises an event against its auth events, against the state before
 * it, against the current state, and inside state resolution.
 * {@link checkAuthEventsList} applies the rules about the `auth_events` list, and
 * {@link authorizeEventWithAuthEvents} combines the two.
 *
 * Cryptographic signature checks are not done here (this module is pure and
 * synchronous); see the notes on `join_authorised_via_users_server` and third-party
 * invites.
 */
import type { JsonObject, JsonValue, PDU, StoredEvent } from "../events/pdu";
import { ROOM_VERSIONS, type RoomVersion } from "../room-versions";
import { authEventKeysForEvent, getPrevEventIds, referencedEventId, roomIdFromCreateEventId } from "./auth-events";
import {
  NAMED_POWER_LEVEL_KEYS,
  getPowerLevels,
  getPrivilegedCreators,
  getRoomCreator,
  getUserPowerLevel,
  isPlausibleUserId,
  parsePowerLevelValue,
  requiredPowerLevel,
  validatePowerLevelsContent,
} from "./power-levels";
import {
  lookupInEvents,
  lookupInStateMap,
  stateTupleKey,
  stateTupleKeyOf,
  type ReadonlyStateMap,
  type StateLookup,
  type StateTupleKey,
} from "./state-map";

export type AuthResult = { readonly allowed: true } | { readonly allowed: false; readonly reason: string };

export interface AuthorizeOptions {
  /**
   * Verifies the `signed` block of a third-party invite (`content.third_party_invite.signed`)
   * against the public keys (unpadded base64 ed25519 keys) of the matching
   * m.room.third_party_invite event: true if any ed25519 signature in `signed.signatures`
   * verifies with any of the keys over the canonical JSON of `signed` without
   * `signatures`. Without it, only the structure is checked: there must be at least one
   * `ed25519:` signature and at least one public key.
   */
  readonly verifyThirdPartyInviteSignature?: (signed: JsonObject, publicKeys: readonly string[]) => boolean;
}

const ALLOW: AuthResult = { allowed: true };
function reject(reason: string): AuthResult {
  return { allowed: false, reason };
}

function isJsonObject(value: JsonValue | undefined): value is JsonObject {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** The server name of a user, v1-v11 room or v1/v2 event ID: everything after the first colon. */
export function serverNameOf(id: string): string | undefined {
  const colon = id.indexOf(":");
  return colon === -1 ? undefined : id.slice(colon + 1);
}

function membershipOf(event: StoredEvent | undefined): string | undefined {
  const membership = event?.pdu.content["membership"];
  return typeof membership === "string" ? membership : undefined;
}

// ---------------------------------------------------------------------------
// m.room.create
// ---------------------------------------------------------------------------

function checkCreateEvent(event: PDU, roomVersion: RoomVersion): AuthResult {
  if (event.prev_events.length > 0) return reject("m.room.create must not have prev_events");

  if (roomVersion.roomIdFromCreateEvent) {
    // The room ID is derived from this event's ID, so it cannot be inside it.
    if (event.room_id !== undefined) return reject("m.room.create must not have a room_id in this room version");
  } else {
    const roomServer = event.room_id === undefined ? undefined : serverNameOf(event.room_id);
    if (roomServer === undefined || roomServer !== serverNameOf(event.sender)) {
      return reject("the room ID's server does not match the sender's server");
    }
  }

  const declaredVersion = event.content["room_version"];
  if (declaredVersion !== undefined && (typeof declaredVersion !== "string" || !ROOM_VERSIONS.has(declaredVersion))) {
    return reject("content.room_version is not a recognised room version");
  }

  if (!roomVersion.implicitRoomCreator && !("creator" in event.content)) {
    return reject("m.room.create has no content.creator");
  }

  if (roomVersion.privilegedCreators && "additional_creators" in event.content) {
    const additional = event.content["additional_creators"];
    if (!Array.isArray(additional) || !additional.every((id) => typeof id === "string" && isPlausibleUserId(id))) {
      return reject("content.additional_creators is not an array of user IDs");
    }
  }
  return ALLOW;
}

// ---------------------------------------------------------------------------
// m.room.member
// ---------------------------------------------------------------------------

interface MembershipContext {
  readonly event: PDU;
  readonly targetUserId: string;
  readonly authState: StateLookup;
  readonly roomVersion: RoomVersion;
  readonly create: StoredEvent;
  readonly options: AuthorizeOptions;
}

function currentJoinRule(authState: StateLookup): string | undefined {
  const joinRules = authState("m.room.join_rules", "");
  // With no join rules event the room behaves as invite-only (as Synapse and other
  // implementations treat it); the rules below then only admit invited users.
  if (joinRules === undefined) return "invite";
  const rule = joinRules.pdu.content["join_rule"];
  return typeof rule === "string" ? rule : undefined;
}

function isRestrictedJoinRule(joinRule: string | undefined, roomVersion: RoomVersion): boolean {
  return (
    (joinRule === "restricted" && roomVersion.restrictedJoinRule) ||
    (joinRule === "knock_restricted" && roomVersion.knockRestrictedJoinRule)
  );
}

function isKnockJoinRule(joinRule: string | undefined, roomVersion: RoomVersion): boolean {
  return (
    (joinRule === "knock" && roomVersion.knockJoinRule) ||
    (joinRule === "knock_restricted" && roomVersion.knockRestrictedJoinRule)
  );
}

/**
 * Whether the event carries a signature from `serverName`. Signatures themselves are
 * verified when the PDU is received (every signature present must verify), so presence
 * here means "validly signed by".
 */
function hasSignatureFrom(event: PDU, serverName: string): boolean {
  const block = event.signatures[serverName];
  return block !== undefined && Object.keys(block).length > 0;
}

function checkJoin(ctx: MembershipContext): AuthResult {
  const { event, targetUserId, authState, roomVersion, create } = ctx;

  // The creator's own join directly after the create event bootstraps the room.
  const prevEventIds = getPrevEventIds(event);
  if (
    prevEventIds.length === 1 &&
    prevEventIds[0] === create.eventId &&
    targetUserId === getRoomCreator(create.pdu, roomVersion)
  ) {
    return ALLOW;
  }

  if (event.sender !== targetUserId) return reject("a user cannot make another user join");
  const senderMembership = membershipOf(authState("m.room.member", event.sender));
  if (senderMembership === "ban") return reject("the sender is banned from the room");

  const joinRule = currentJoinRule(authState);
  const alreadyInvitedOrJoined = senderMembership === "invite" || senderMembership === "join";

  if (joinRule === "invite" || (joinRule === "knock" && roomVersion.knockJoinRule)) {
    return alreadyInvitedOrJoined ? ALLOW : reject("the room is invite-only and the sender is not invited");
  }

  if (isRestrictedJoinRule(joinRule, roomVersion)) {
    if (alreadyInvitedOrJoined) return ALLOW;
    const authoriser = event.content["join_authorised_via_users_server"];
    if (typeof authoriser !== "string") {
      return reject("restricted join without join_authorised_via_users_server");
    }
    if (membershipOf(authState("m.room.member", authoriser)) !== "join") {
      return reject("the user authorising the restricted join is not joined to the room");
    }
    const inviteLevel = getPowerLevels(authState, roomVersion).invite;
    if (getUserPowerLevel(authoriser, authState, roomVersion) < inviteLevel) {
      return reject("the user authorising the restricted join cannot invite users");
    }
    return ALLOW;
  }

  if (joinRule === "public") return ALLOW;
  return reject(`joining is not allowed with join rule ${JSON.stringify(joinRule ?? null)}`);
}

function thirdPartyInvitePublicKeys(content: JsonObject): string[] {
  const keys: string[] = [];
  const single = content["public_key"];
  if (typeof single === "string") keys.push(single);
  const list = content["public_keys"];
  if (Array.isArray(list)) {
    for (const entry of list) {
      if (isJsonObject(entry) && typeof entry["public_key"] === "string") keys.push(entry["public_key"]);
    }
  }
  return keys;
}

function hasEd25519Signature(signed: JsonObject): boolean {
  const signatures = signed["signatures"];
  if (!isJsonObject(signatures)) return false;
  return Object.values(signatures).some(
    (block) => isJsonObject(block) && Object.keys(block).some((keyId) => keyId.startsWith("ed25519:")),
  );
}

function checkThirdPartyInvite(ctx: MembershipContext, thirdPartyInvite: JsonValue): AuthResult {
  const { event, targetUserId, authState, options } = ctx;
  if (membershipOf(authState("m.room.member", targetUserId)) === "ban") {
    return reject("the invited user is banned from the room");
  }
  const signed = isJsonObject(thirdPartyInvite) ? thirdPartyInvite["signed"] : undefined;
  if (!isJsonObject(signed)) return reject("third_party_invite has no signed object");
  const mxid = signed["mxid"];
  const token = signed["token"];
  if (typeof mxid !== "string" || typeof token !== "string") {
    return reject("third_party_invite.signed lacks mxid or token");
  }
  if (mxid !== targetUserId) return reject("third_party_invite.signed.mxid does not match the state_key");
  const inviteEvent = authState("m.room.third_party_invite", token);
  if (inviteEvent === undefined) return reject("no m.room.third_party_invite matches the token");
  if (inviteEvent.pdu.sender !== event.sender) {
    return reject("the sender is not the sender of the m.room.third_party_invite");
  }
  const publicKeys = thirdPartyInvitePublicKeys(inviteEvent.pdu.content);
  const verified =
    options.verifyThirdPartyInviteSignature !== undefined
      ? options.verifyThirdPartyInviteSignature(signed, publicKeys)
      : publicKeys.length > 0 && hasEd25519Signature(signed);
  return verified ? ALLOW : reject("third_party_invite.signed is not signed by a key of the m.room.third_party_invite");
}

function checkMemberEvent(event: PDU, authState: StateLookup, roomVersion: RoomVersion, create: StoredEvent, options: AuthorizeOptions): AuthResult {
  const targetUserId = event.state_key;
  const membership = event.content["membership"];
  if (targetUserId === undefined) return reject("m.room.member has no state_key");
  if (typeof membership !== "string") return reject("m.room.member has no content.membership");

  if (roomVersion.restrictedJoinRule && "join_authorised_via_users_server" in event.content) {
    const authoriser = event.content["join_authorised_via_users_server"];
    const authoriserServer = typeof authoriser === "string" ? serverNameOf(authoriser) : undefined;
    if (authoriserServer === undefined || !hasSignatureFrom(event, authoriserServer)) {
      return reject("not signed by the server of join_authorised_via_users_server");
    }
  }

  const ctx: MembershipContext = { event, targetUserId, authState, roomVersion, create, options };
  const senderMembership = membershipOf(authState("m.room.member", event.sender));
  const targetMembership = membershipOf(authState("m.room.member", targetUserId));
  const senderLevel = (): number => getUserPowerLevel(event.sender, authState, roomVersion);
  const targetLevel = (): number => getUserPowerLevel(targetUserId, authState, roomVersion);
  const levels = (): ReturnType<typeof getPowerLevels> => getPowerLevels(authState, roomVersion);

  switch (membership) {
    case "join":
      return checkJoin(ctx);

    case "invite": {
      const thirdPartyInvite = event.content["third_party_invite"];
      if (thirdPartyInvite !== undefined) return checkThirdPartyInvite(ctx, thirdPartyInvite);
      if (senderMembership !== "join") return reject("the inviter is not joined to the room");
      if (targetMembership === "join" || targetMembership === "ban") {
        return reject(`the invited user's membership is ${targetMembership}`);
      }
      return senderLevel() >= levels().invite ? ALLOW : reject("the sender's power level is below the invite level");
    }

    case "leave": {
      if (event.sender === targetUserId) {
        const canLeave =
          senderMembership === "invite" ||
          senderMembership === "join" ||
          (senderMembership === "knock" && roomVersion.knockJoinRule);
        return canLeave ? ALLOW : reject(`cannot leave with membership ${JSON.stringify(senderMembership ?? null)}`);
      }
      if (senderMembership !== "join") return reject("the sender is not joined to the room");
      const { ban, kick } = levels();
      const level = senderLevel();
      if (targetMembership === "ban" && level < ban) return reject("the sender's power level is below the ban level");
      if (level >= kick && targetLevel() < level) return ALLOW;
      return reject("the sender may not kick this user");
    }

    case "ban": {
      if (senderMembership !== "join") return reject("the sender is not joined to the room");
      const level = senderLevel();
      if (level >= levels().ban && targetLevel() < level) return ALLOW;
      return reject("the sender may not ban this user");
    }

    case "knock": {
      if (!roomVersion.knockJoinRule) break;
      if (!isKnockJoinRule(currentJoinRule(authState), roomVersion)) return reject("the join rule does not allow knocking");
      if (event.sender !== targetUserId) return reject("a user cannot knock on behalf of another user");
      if (senderMembership === "ban" || senderMembership === "invite" || senderMembership === "join") {
        return reject(`cannot knock with membership ${senderMembership}`);
      }
      return ALLOW;
    }
  }
  return reject(`unknown membership ${JSON.stringify(membership)}`);
}

// ---------------------------------------------------------------------------
// m.room.power_levels
// ---------------------------------------------------------------------------

/** Parsed entries of an optional level map in power levels content. */
function levelEntries(content: JsonObject, mapKey: string, roomVersion: RoomVersion): Map<string, number> {
  const entries = new Map<string, number>();
  const map = content[mapKey];
  if (!isJsonObject(map)) return entries;
  for (const [key, raw] of Object.entries(map)) {
    const level = parsePowerLevelValue(raw, roomVersion);
    if (level !== undefined) entries.set(key, level);
  }
  return entries;
}

function checkPowerLevelsEvent(event: PDU, authState: StateLookup, roomVersion: RoomVersion, create: StoredEvent): AuthResult {
  const newContent = event.content;
  const invalid = validatePowerLevelsContent(newContent, roomVersion);
  if (invalid !== undefined) return reject(invalid);

  if (roomVersion.privilegedCreators) {
    const users = newContent["users"];
    if (isJsonObject(users)) {
      for (const creator of getPrivilegedCreators(create.pdu, roomVersion)) {
        if (creator in users) return reject(`room creator ${creator} must not be listed in power levels users`);
      }
    }
  }

  const previous = authState("m.room.power_levels", "");
  if (previous === undefined) return ALLOW;
  const oldContent = previous.pdu.content;
  const senderLevel = getUserPowerLevel(event.sender, authState, roomVersion);

  for (const key of NAMED_POWER_LEVEL_KEYS) {
    const oldLevel = oldContent[key] === undefined ? undefined : parsePowerLevelValue(oldContent[key], roomVersion);
    const newLevel = parsePowerLevelValue(newContent[key], roomVersion);
    // Added, changed or removed: both the old and the new value must be within reach.
    if (oldLevel === newLevel) continue;
    if (oldLevel !== undefined && oldLevel > senderLevel) return reject(`cannot change "${key}" from a level above your own`);
    if (newLevel !== undefined && newLevel > senderLevel) return reject(`cannot set "${key}" above your own level`);
  }

  const mapKeys = roomVersion.limitNotificationsPowerLevels ? ["events", "notifications"] : ["events"];
  for (const mapKey of mapKeys) {
    const oldLevels = levelEntries(oldContent, mapKey, roomVersion);
    const newLevels = levelEntries(newContent, mapKey, roomVersion);
    for (const entry of new Set([...oldLevels.keys(), ...newLevels.keys()])) {
      const oldLevel = oldLevels.get(entry);
      const newLevel = newLevels.get(entry);
      if (oldLevel === newLevel) continue;
      if (oldLevel !== undefined && oldLevel > senderLevel) {
        return reject(`cannot change "${mapKey}.${entry}" from a level above your own`);
      }
      if (newLevel !== undefined && newLevel > senderLevel) {
        return reject(`cannot set "${mapKey}.${entry}" above your own level`);
      }
    }
  }

  const oldUsers = levelEntries(oldContent, "users", roomVersion);
  const newUsers = levelEntries(newContent, "users", roomVersion);
  for (const userId of new Set([...oldUsers.keys(), ...newUsers.keys()])) {
    const oldLevel = oldUsers.get(userId);
    const newLevel = newUsers.get(userId);
    if (oldLevel === newLevel) continue;
    // Users may lower themselves, but nobody else at or above their own level.
    if (userId !== event.sender && oldLevel !== undefined && oldLevel >= senderLevel) {
      return reject(`cannot change the level of ${userId}, who is not below you`);
    }
    if (newLevel !== undefined && newLevel > senderLevel) {
      return reject(`cannot raise ${userId} above your own level`);
    }
  }
  return ALLOW;
}

// ---------------------------------------------------------------------------
// Entry points
// ---------------------------------------------------------------------------

/**
 * Applies the authorisation rules that depend on room state to `event`.
 *
 * `authState` gives the state to authorise against: the event's auth events, the state
 * before the event, or the current state. It must return only accepted (non-rejected)
 * events and must include the m.room.create event (in v12 too, although v12 events do
 * not cite it: it is the event the room ID names). Only the keys chosen by the auth
 * events selection are read, plus the create event.
 *
 * Not checked here: the `auth_events` list itself (see {@link checkAuthEventsList}),
 * hashes and signatures. For `join_authorised_via_users_server` only the presence of a
 * signature from that user's server is checked; for third-party invites see
 * {@link AuthorizeOptions.verifyThirdPartyInviteSignature}.
 */
export function authorizeEvent(
  event: PDU,
  authState: StateLookup,
  roomVersion: RoomVersion,
  options: AuthorizeOptions = {},
): AuthResult {
  if (event.type === "m.room.create") return checkCreateEvent(event, roomVersion);

  const create = authState("m.room.create", "");
  if (create === undefined) return reject("no m.room.create event in the auth state");
  if (roomVersion.roomIdFromCreateEvent) {
    if (event.room_id === undefined || event.room_id !== roomIdFromCreateEventId(create.eventId)) {
      return reject("the room ID does not name the room's m.room.create event");
    }
  } else if (create.pdu.room_id !== event.room_id) {
    return reject("the m.room.create event belongs to another room");
  }

  if (create.pdu.content["m.federate"] === false && serverNameOf(event.sender) !== serverNameOf(create.pdu.sender)) {
    return reject("the room does not federate and the sender is on another server");
  }

  if (event.type === "m.room.aliases" && roomVersion.specialCaseAliasesAuth) {
    if (event.state_key === undefined) return reject("m.room.aliases must be a state event");
    return event.state_key === serverNameOf(event.sender)
      ? ALLOW
      : reject("m.room.aliases state_key must be the sender's server name");
  }

  if (event.type === "m.room.member") return checkMemberEvent(event, authState, roomVersion, create, options);

  if (membershipOf(authState("m.room.member", event.sender)) !== "join") {
    return reject("the sender is not joined to the room");
  }

  const levels = getPowerLevels(authState, roomVersion);
  const senderLevel = getUserPowerLevel(event.sender, authState, roomVersion);

  if (event.type === "m.room.third_party_invite") {
    return senderLevel >= levels.invite ? ALLOW : reject("the sender's power level is below the invite level");
  }

  const required = requiredPowerLevel(levels, event.type, event.state_key !== undefined);
  if (required > senderLevel) {
    return reject(`sending ${event.type} requires power level ${required}, the sender has ${senderLevel}`);
  }

  if (event.state_key !== undefined && event.state_key.startsWith("@") && event.state_key !== event.sender) {
    return reject("a state_key starting with @ must be the sender's user ID");
  }

  if (event.type === "m.room.power_levels") return checkPowerLevelsEvent(event, authState, roomVersion, create);

  // v1/v2 only (their event IDs carry a server name); from v3 redactions are checked
  // when the redaction is applied, not by the auth rules.
  if (event.type === "m.room.redaction" && roomVersion.eventIdFormat === "v1") {
    if (senderLevel >= levels.redact) return ALLOW;
    const redactionServer = event.event_id === undefined ? undefined : serverNameOf(event.event_id);
    const redactedServer = typeof event.redacts === "string" ? serverNameOf(event.redacts) : undefined;
    if (redactionServer !== undefined && redactionServer === redactedServer) return ALLOW;
    return reject("the sender may only redact events from their own server");
  }

  return ALLOW;
}

export interface AuthEventsListOptions {
  /** Whether an auth event was itself rejected; rejected auth events make the event rejected. */
  readonly isRejected?: (eventId: string) => boolean;
}

/**
 * The auth rules about the `auth_events` list: every cited event must be known and given
 * in `authEvents`, be a state event of the same room, not be rejected, not share a
 * `(type, state_key)` with another, and be one the auth events selection allows; before
 * v12 the create event must be among them (in v12 it must not be, as it is not
 * selectable). m.room.create events are not subject to these rules.
 */
export function checkAuthEventsList(
  event: PDU,
  authEvents: readonly StoredEvent[],
  roomVersion: RoomVersion,
  options: AuthEventsListOptions = {},
): AuthResult {
  if (event.type === "m.room.create") return ALLOW;

  const byId = new Map(authEvents.map((authEvent) => [authEvent.eventId, authEvent]));
  const allowedKeys = new Set(authEventKeysForEvent(event, roomVersion).map(([type, key]) => stateTupleKey(type, key)));
  const seenKeys = new Set<StateTupleKey>();
  let hasCreate = false;

  for (const reference of event.auth_events) {
    const eventId = referencedEventId(reference);
    const authEvent = byId.get(eventId);
    if (authEvent === undefined) return reject(`auth event ${eventId} is unknown`);
    const key = stateTupleKeyOf(authEvent.pdu);
    if (key === undefined) return reject(`auth event ${eventId} is not a state event`);
    if (seenKeys.has(key)) return reject(`auth events contain two events for ${key}`);
    seenKeys.add(key);
    if (!allowedKeys.has(key)) return reject(`auth event ${eventId} (${key}) is not one this event may cite`);
    if (options.isRejected?.(eventId) === true) return reject(`auth event ${eventId} was rejected`);
    if (authEvent.pdu.room_id !== event.room_id) return reject(`auth event ${eventId} belongs to another room`);
    if (authEvent.pdu.type === "m.room.create") hasCreate = true;
  }

  if (!roomVersion.roomIdFromCreateEvent && !hasCreate) return reject("auth events do not include the m.room.create event");
  return ALLOW;
}

export interface AuthorizeWithAuthEventsOptions extends AuthorizeOptions, AuthEventsListOptions {
  /** v12: the room's create event (the one the room ID names), which auth_events do not cite. */
  readonly createEvent?: StoredEvent;
}

/**
 * Authorises an event against its own auth events: {@link checkAuthEventsList} and then
 * {@link authorizeEvent} with the state those auth events describe.
 */
export function authorizeEventWithAuthEvents(
  event: PDU,
  authEvents: readonly StoredEvent[],
  roomVersion: RoomVersion,
  options: AuthorizeWithAuthEventsOptions = {},
): AuthResult {
  const listResult = checkAuthEventsList(event, authEvents, roomVersion, options);
  if (!listResult.allowed) return listResult;
  const cited = new Set(event.auth_events.map(referencedEventId));
  const state = authEvents.filter((authEvent) => cited.has(authEvent.eventId));
  if (roomVersion.roomIdFromCreateEvent && options.createEvent !== undefined) state.push(options.createEvent);
  return authorizeEvent(event, lookupInEvents(state), roomVersion, options);
}

/**
 * Authorises an event against a full room state (the state before the event, or the
 * room's current state for the "current state" check on receipt). Only the state the
 * auth events selection would cite, plus the create event, is consulted, so the result
 * matches authorising against auth events chosen from that state.
 */
export function authorizeEventAgainstState(
  event: PDU,
  state: StateLookup | ReadonlyStateMap<StoredEvent>,
  roomVersion: RoomVersion,
  options: AuthorizeOptions = {},
): AuthResult {
  const lookup = typeof state === "function" ? state : lookupInStateMap(state);
  const relevant = new Set(authEventKeysForEvent(event, roomVersion).map(([type, key]) => stateTupleKey(type, key)));
  relevant.add(stateTupleKey("m.room.create", ""));
  const restricted: StateLookup = (type, stateKey) =>
    relevant.has(stateTupleKey(type, stateKey)) ? lookup(type, stateKey) : undefined;
  return authorizeEvent(event, restricted, roomVersion, options);
}
