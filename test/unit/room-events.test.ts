/**
 * Events this server creates, built exactly as the Room Durable Object and createRoom build them
 * (buildLocalEvent with the key parsed from the SIGNING_KEY setting): each must carry a correct content
 * hash, an event ID equal to its reference hash (v3+), a valid signature by the server key, the right
 * graph fields, and pass the auth rules against its auth events. createRoom's plan is checked the same
 * way for every room version and preset.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { referencedEventId } from "../../src/core/auth/auth-events";
import { authorizeEventAgainstState, authorizeEventWithAuthEvents } from "../../src/core/auth/auth-rules";
import { stateTupleKey, type StateLookup } from "../../src/core/auth/state-map";
import { encodeBase64 } from "../../src/core/crypto/base64";
import { derivePublicKey, encodeSigningKeyFile, generateSigningKey } from "../../src/core/crypto/ed25519";
import { computeEventId, computeRoomIdFromCreateEvent } from "../../src/core/events/event-id";
import { checkContentHash, computeReferenceHash } from "../../src/core/events/hashing";
import type { JsonObject, StoredEvent } from "../../src/core/events/pdu";
import { verifyEventSignature } from "../../src/core/events/signing";
import { isValidEventId } from "../../src/core/identifiers";
import { ROOM_VERSIONS, getRoomVersion, type RoomVersion } from "../../src/core/room-versions";
import { loadConfig } from "../../src/config";
import { MatrixError } from "../../src/http/errors";
import { buildLocalEvent, selectAuthEvents, type EventDraft, type ServerIdentity } from "../../src/rooms/event-builder";
import { planRoomCreation, type RoomCreationRequest } from "../../src/rooms/room-creation";
import { serverIdentity } from "../../src/rooms/signing-key";

const SERVER = "example.org";
const ALICE = `@alice:${SERVER}`;
const BOB = `@bob:${SERVER}`;
const CAROL = `@carol:${SERVER}`;

async function testIdentity(): Promise<ServerIdentity> {
  const keyFile = encodeSigningKeyFile(await generateSigningKey("a_test"));
  return serverIdentity(loadConfig({ SERVER_NAME: SERVER, SIGNING_KEY: keyFile }));
}

/** A room grown one local event at a time, the way the Room Durable Object does it. */
class LocalRoom {
  readonly events: StoredEvent[] = [];
  private readonly state = new Map<string, StoredEvent>();
  roomId: string | undefined;

  constructor(
    readonly version: RoomVersion,
    private readonly identity: ServerIdentity,
  ) {
    if (!version.roomIdFromCreateEvent) this.roomId = `!abcdefghijklmnopqr:${SERVER}`;
  }

  lookup: StateLookup = (type, stateKey) => this.state.get(stateTupleKey(type, stateKey));

  async send(draft: EventDraft): Promise<StoredEvent> {
    const latest = this.events.at(-1);
    const event = await buildLocalEvent(
      draft,
      {
        roomId: this.roomId,
        prevEvents: latest === undefined ? [] : [latest],
        authEvents: selectAuthEvents(draft, this.lookup, this.version),
        originServerTs: 1_700_000_000_000 + this.events.length,
      },
      this.version,
      this.identity,
    );
    if (draft.type === "m.room.create" && this.version.roomIdFromCreateEvent) {
      this.roomId = computeRoomIdFromCreateEvent(event.pdu, this.version);
    }
    const byId = new Map(this.events.map((stored) => [stored.eventId, stored]));
    const authEvents = event.pdu.auth_events.map((reference) => byId.get(referencedEventId(reference))!);
    const create = this.lookup("m.room.create", "");
    const withAuthEvents = authorizeEventWithAuthEvents(event.pdu, authEvents, this.version, create ? { createEvent: create } : {});
    assert.ok(withAuthEvents.allowed, `${draft.type} rejected by its auth events: ${withAuthEvents.allowed ? "" : withAuthEvents.reason}`);
    const againstState = authorizeEventAgainstState(event.pdu, this.lookup, this.version);
    assert.ok(againstState.allowed, `${draft.type} rejected by the current state: ${againstState.allowed ? "" : againstState.reason}`);
    this.events.push(event);
    if (event.pdu.state_key !== undefined) this.state.set(stateTupleKey(event.pdu.type, event.pdu.state_key), event);
    return event;
  }
}

async function assertVerifiable(event: StoredEvent, version: RoomVersion, identity: ServerIdentity): Promise<void> {
  const { pdu } = event;
  assert.ok(checkContentHash(pdu, version), "content hash matches");
  if (version.eventIdFormat === "v1") {
    assert.equal(pdu.event_id, event.eventId);
    assert.match(event.eventId, new RegExp(`^\\$[A-Za-z0-9]{18}:${SERVER.replace(".", "\\.")}$`));
  } else {
    assert.equal(computeEventId(pdu, version), event.eventId, "event ID is the reference hash");
    assert.equal(pdu.event_id, undefined, "v3+ events do not carry their ID");
  }
  assert.ok(isValidEventId(event.eventId, version));
  const publicKey = await derivePublicKey(identity.signingKey.seed);
  assert.deepEqual(Object.keys(pdu.signatures), [SERVER]);
  assert.deepEqual(Object.keys(pdu.signatures[SERVER]!), ["ed25519:a_test"]);
  assert.ok(await verifyEventSignature(pdu, SERVER, "ed25519:a_test", publicKey, version), "signature verifies");
}

describe("events built by the server", () => {
  for (const version of ROOM_VERSIONS.values()) {
    it(`room version ${version.id}: hash, ID, signature, graph and auth all check out`, async () => {
      const identity = await testIdentity();
      const room = new LocalRoom(version, identity);
      const createContent: JsonObject = version.implicitRoomCreator ? { room_version: version.id } : { creator: ALICE, room_version: version.id };
      const create = await room.send({ type: "m.room.create", sender: ALICE, stateKey: "", content: createContent });
      assert.equal(create.pdu.depth, 1);
      assert.deepEqual(create.pdu.prev_events, []);
      if (version.roomIdFromCreateEvent) {
        assert.equal(create.pdu.room_id, undefined);
        assert.equal(room.roomId, `!${create.eventId.slice(1)}`);
      }
      await room.send({ type: "m.room.member", sender: ALICE, stateKey: ALICE, content: { membership: "join" } });
      await room.send({
        type: "m.room.power_levels",
        sender: ALICE,
        stateKey: "",
        content: { users: version.privilegedCreators ? {} : { [ALICE]: 100 } },
      });
      await room.send({ type: "m.room.join_rules", sender: ALICE, stateKey: "", content: { join_rule: "public" } });
      await room.send({ type: "m.room.member", sender: BOB, stateKey: BOB, content: { membership: "join" } });
      const message = await room.send({ type: "m.room.message", sender: BOB, content: { msgtype: "m.text", body: "hello" } });
      await room.send({ type: "m.room.redaction", sender: BOB, content: {}, redacts: message.eventId });

      for (const [index, event] of room.events.entries()) {
        await assertVerifiable(event, version, identity);
        assert.equal(event.pdu.depth, index + 1, "depth is the previous event's plus one");
        if (index > 0) {
          const previous = room.events[index - 1]!;
          const expected = version.eventIdFormat === "v1"
            ? [[previous.eventId, { sha256: encodeBase64(computeReferenceHash(previous.pdu, version)) }]]
            : [previous.eventId];
          assert.deepEqual(event.pdu.prev_events, expected);
          assert.equal(event.pdu.room_id, room.roomId);
        }
        const citesCreate = event.pdu.auth_events.some((reference) => referencedEventId(reference) === create.eventId);
        assert.equal(citesCreate, index > 0 && !version.roomIdFromCreateEvent, "v12 events never cite the create event");
      }
      const redaction = room.events.at(-1)!.pdu;
      if (version.updatedRedactionRules) {
        assert.equal(redaction.content["redacts"], message.eventId);
        assert.equal(redaction.redacts, undefined);
      } else {
        assert.equal(redaction.redacts, message.eventId);
      }
    });
  }

  it("rejects content over the size limit with M_TOO_LARGE and floats with M_BAD_JSON", async () => {
    const identity = await testIdentity();
    const version = getRoomVersion("11")!;
    const position = { roomId: `!r:${SERVER}`, prevEvents: [], authEvents: [], originServerTs: 1 };
    await assert.rejects(
      buildLocalEvent({ type: "m.room.message", sender: ALICE, content: { body: "x".repeat(70_000) } }, position, version, identity),
      (error: unknown) => error instanceof MatrixError && error.status === 413 && error.errcode === "M_TOO_LARGE",
    );
    await assert.rejects(
      buildLocalEvent({ type: "m.room.message", sender: ALICE, content: { body: "x", weight: 1.5 } }, position, version, identity),
      (error: unknown) => error instanceof MatrixError && error.status === 400 && error.errcode === "M_BAD_JSON",
    );
    await assert.rejects(
      buildLocalEvent({ type: "x".repeat(256), sender: ALICE, content: {} }, position, version, identity),
      (error: unknown) => error instanceof MatrixError && error.errcode === "M_TOO_LARGE",
    );
  });
});

function creationRequest(version: RoomVersion, extra: Partial<RoomCreationRequest> = {}): RoomCreationRequest {
  return {
    creator: ALICE,
    serverName: SERVER,
    roomVersion: version,
    visibility: "private",
    invite: [],
    isDirect: false,
    initialState: [],
    creationContent: {},
    ...extra,
  };
}

describe("createRoom plan", () => {
  it("orders events as the spec says and applies the preset", () => {
    const plan = planRoomCreation(
      creationRequest(getRoomVersion("11")!, {
        aliasLocalpart: "lounge",
        name: "Lounge",
        topic: "Chat",
        invite: [BOB],
        isDirect: true,
        initialState: [{ type: "m.room.encryption", stateKey: "", content: { algorithm: "m.megolm.v1.aes-sha2" } }],
      }),
    );
    assert.deepEqual(
      plan.events.map((event) => event.type),
      [
        "m.room.member",
        "m.room.power_levels",
        "m.room.canonical_alias",
        "m.room.join_rules",
        "m.room.history_visibility",
        "m.room.guest_access",
        "m.room.encryption",
        "m.room.name",
        "m.room.topic",
        "m.room.member",
      ],
    );
    assert.equal(plan.alias, `#lounge:${SERVER}`);
    assert.deepEqual(plan.createContent, { room_version: "11" });
    assert.deepEqual(plan.events[3]!.content, { join_rule: "invite" });
    assert.deepEqual(plan.events.at(-1), { type: "m.room.member", sender: ALICE, stateKey: BOB, content: { membership: "invite", is_direct: true } });
    assert.equal(plan.events[1]!.content["invite"], 0, "private chats let members invite");
    assert.deepEqual(plan.events[8]!.content, { topic: "Chat", "m.topic": { "m.text": [{ body: "Chat" }] } });
  });

  it("public_chat: public join rule, no guest access event, visibility public", () => {
    const plan = planRoomCreation(creationRequest(getRoomVersion("10")!, { visibility: "public" }));
    assert.deepEqual(plan.events.map((event) => event.type), ["m.room.member", "m.room.power_levels", "m.room.join_rules", "m.room.history_visibility"]);
    assert.deepEqual(plan.events[2]!.content, { join_rule: "public" });
    assert.equal(plan.isPublic, true);
    assert.deepEqual(plan.createContent, { creator: ALICE, room_version: "10" });
  });

  it("initial_state overrides preset events and the default power levels; name and topic come last", () => {
    const plan = planRoomCreation(
      creationRequest(getRoomVersion("11")!, {
        name: "Final",
        initialState: [
          { type: "m.room.join_rules", stateKey: "", content: { join_rule: "public" } },
          { type: "m.room.power_levels", stateKey: "", content: { users: { [ALICE]: 100 } } },
          { type: "m.room.name", stateKey: "", content: { name: "First" } },
          { type: "m.room.join_rules", stateKey: "", content: { join_rule: "knock" } },
        ],
      }),
    );
    assert.deepEqual(
      plan.events.map((event) => [event.type, event.content]),
      [
        ["m.room.member", { membership: "join" }],
        ["m.room.power_levels", { users: { [ALICE]: 100 } }],
        ["m.room.history_visibility", { history_visibility: "shared" }],
        ["m.room.guest_access", { guest_access: "can_join" }],
        ["m.room.join_rules", { join_rule: "knock" }],
        ["m.room.name", { name: "First" }],
        ["m.room.name", { name: "Final" }],
      ],
    );
  });

  it("trusted_private_chat: invitees get the creator's power (v11) or become additional creators (v12)", () => {
    const v11 = planRoomCreation(creationRequest(getRoomVersion("11")!, { preset: "trusted_private_chat", invite: [BOB] }));
    assert.deepEqual(v11.events[1]!.content["users"], { [ALICE]: 100, [BOB]: 100 });
    const v12 = planRoomCreation(
      creationRequest(getRoomVersion("12")!, { preset: "trusted_private_chat", invite: [BOB, CAROL], creationContent: { additional_creators: [CAROL] } }),
    );
    assert.deepEqual(v12.createContent, { additional_creators: [CAROL, BOB], room_version: "12" });
    assert.deepEqual(v12.events[1]!.content["users"], {}, "v12 creators are never listed");
    assert.deepEqual((v12.events[1]!.content["events"] as JsonObject)["m.room.tombstone"], 150);
  });

  it("rejects invalid aliases, invitees and power level overrides with M_INVALID_PARAM", () => {
    const version = getRoomVersion("11")!;
    for (const extra of [
      { aliasLocalpart: "has space" },
      { aliasLocalpart: "#full:example.org" },
      { invite: ["not-a-user"] },
      { powerLevelContentOverride: { users: { [BOB]: 100 } } },
    ]) {
      assert.throws(
        () => planRoomCreation(creationRequest(version, extra)),
        (error: unknown) => error instanceof MatrixError && error.status === 400 && error.errcode === "M_INVALID_PARAM",
        JSON.stringify(extra),
      );
    }
  });

  for (const version of ROOM_VERSIONS.values()) {
    for (const preset of ["private_chat", "trusted_private_chat", "public_chat"] as const) {
      it(`room version ${version.id}, ${preset}: every planned event passes the auth rules`, async () => {
        const identity = await testIdentity();
        const plan = planRoomCreation(
          creationRequest(version, { preset, aliasLocalpart: "room", name: "Room", topic: "Topic", invite: [BOB, CAROL] }),
        );
        const room = new LocalRoom(version, identity);
        await room.send({ type: "m.room.create", sender: ALICE, stateKey: "", content: plan.createContent });
        for (const draft of plan.events) await room.send(draft);
        assert.equal(room.lookup("m.room.member", BOB)?.pdu.content["membership"], "invite");
      });
    }
  }
});
