import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { JsonObject, StoredEvent } from "../../src/core/events/pdu";
import { getAuthEventIds, selectAuthEventKeys } from "../../src/core/auth/auth-events";
import {
  authorizeEvent,
  authorizeEventAgainstState,
  authorizeEventWithAuthEvents,
  checkAuthEventsList,
  type AuthResult,
} from "../../src/core/auth/auth-rules";
import { ALICE, BOB, CHARLIE, EVELYN, MALLORY, RoomBuilder, roomVersion, type EventSpec } from "./support/room-builder";

function assertAllowed(result: AuthResult, message?: string): void {
  assert.equal(result.allowed, true, message ?? (result.allowed ? "" : result.reason));
}

function assertRejected(result: AuthResult, reasonPattern?: RegExp): void {
  assert.equal(result.allowed, false, "expected the event to be rejected");
  if (reasonPattern !== undefined && !result.allowed) assert.match(result.reason, reasonPattern);
}

const member = (id: string, sender: string, target: string, membership: string, extra: JsonObject = {}): EventSpec => ({
  id,
  type: "m.room.member",
  sender,
  stateKey: target,
  content: { membership, ...extra },
});

const powerLevels = (id: string, sender: string, content: JsonObject): EventSpec => ({
  id,
  type: "m.room.power_levels",
  sender,
  stateKey: "",
  content,
});

/** Alice (100) created a public room that Bob (level 0) and Charlie (level 50) joined. */
function roomWithMembers(versionId = "10", extra: { powerLevels?: JsonObject; joinRule?: string } = {}): RoomBuilder {
  const room = new RoomBuilder(versionId).bootstrap({ users: { [CHARLIE]: 50 }, ...extra });
  if ((extra.joinRule ?? "public") === "public") {
    room.join(BOB);
    room.join(CHARLIE);
  } else {
    room.send(member("$INVITE_BOB", ALICE, BOB, "invite"));
    room.join(BOB);
    room.send(member("$INVITE_CHARLIE", ALICE, CHARLIE, "invite"));
    room.join(CHARLIE);
  }
  return room;
}

describe("m.room.create", () => {
  it("bootstraps a room: create, the creator's join, power levels, join rules", () => {
    for (const versionId of ["1", "2", "3", "6", "9", "10", "11", "12"]) {
      const room = new RoomBuilder(versionId).bootstrap();
      assert.equal(room.stateEventId("m.room.join_rules"), "$JOIN_RULES", versionId);
    }
  });

  it("rejects a create event with prev_events", () => {
    const room = new RoomBuilder("10");
    assertRejected(room.try({ id: "$C", type: "m.room.create", sender: ALICE, stateKey: "", content: { creator: ALICE }, prevEvents: ["$X"] }), /prev_events/);
  });

  it("rejects a room ID on another server than the sender's", () => {
    const room = new RoomBuilder("10", "!room:other.example");
    assertRejected(room.try({ id: "$C", type: "m.room.create", sender: ALICE, stateKey: "", content: { creator: ALICE } }), /server/);
  });

  it("rejects an unknown content.room_version", () => {
    const room = new RoomBuilder("10");
    assertRejected(room.try({ id: "$C", type: "m.room.create", sender: ALICE, stateKey: "", content: { creator: ALICE, room_version: "99" } }));
    assertRejected(room.try({ id: "$C", type: "m.room.create", sender: ALICE, stateKey: "", content: { creator: ALICE, room_version: 10 } }));
  });

  it("requires content.creator before v11 but not from v11", () => {
    assertRejected(new RoomBuilder("10").try({ id: "$C", type: "m.room.create", sender: ALICE, stateKey: "", content: {} }), /creator/);
    assertAllowed(new RoomBuilder("11").try({ id: "$C", type: "m.room.create", sender: ALICE, stateKey: "", content: {} }));
  });

  it("v11: the create event's sender is the creator who may join first", () => {
    const room = new RoomBuilder("11");
    room.send({ id: "$CREATE", type: "m.room.create", sender: ALICE, stateKey: "", content: { room_version: "11" } });
    assertRejected(room.try(member("$J", BOB, BOB, "join")));
    room.send(member("$J", ALICE, ALICE, "join"));
    // Without a power levels event the creator has 100.
    room.send(powerLevels("$P", ALICE, { users: { [ALICE]: 100 } }));
  });

  it("only the creator may join directly after the create event", () => {
    const room = new RoomBuilder("10");
    room.send({ id: "$CREATE", type: "m.room.create", sender: ALICE, stateKey: "", content: { creator: ALICE } });
    // No join rules yet: the room behaves as invite-only.
    assertRejected(room.try(member("$J", BOB, BOB, "join")));
    // The creator's join must follow the create event directly.
    assertRejected(room.try({ ...member("$J", ALICE, ALICE, "join"), prevEvents: ["$OTHER"] }));
  });

  it("v12: rejects a create event with a room_id and validates additional_creators", () => {
    const room = new RoomBuilder("12");
    assertRejected(room.try({ id: "$C", type: "m.room.create", sender: ALICE, stateKey: "", content: {}, roomId: "!x:example.com" }), /room_id/);
    assertRejected(room.try({ id: "$C", type: "m.room.create", sender: ALICE, stateKey: "", content: { additional_creators: "x" } }));
    assertRejected(room.try({ id: "$C", type: "m.room.create", sender: ALICE, stateKey: "", content: { additional_creators: ["bob"] } }));
    assertAllowed(room.try({ id: "$C", type: "m.room.create", sender: ALICE, stateKey: "", content: { additional_creators: [BOB] } }));
  });
});

describe("sending events", () => {
  it("requires the sender to be joined", () => {
    const room = roomWithMembers();
    assertRejected(room.try({ id: "$M", type: "m.room.message", sender: EVELYN, content: { body: "hi" } }), /not joined/);
    assertAllowed(room.try({ id: "$M", type: "m.room.message", sender: BOB, content: { body: "hi" } }));
  });

  it("requires the event type's power level", () => {
    const room = roomWithMembers("10", { powerLevels: { events: { "m.room.name": 100 } } });
    assertRejected(room.try({ id: "$T", type: "m.room.topic", sender: BOB, stateKey: "", content: { topic: "x" } }), /power level 50/);
    assertAllowed(room.try({ id: "$T", type: "m.room.topic", sender: CHARLIE, stateKey: "", content: { topic: "x" } }));
    assertRejected(room.try({ id: "$N", type: "m.room.name", sender: CHARLIE, stateKey: "", content: { name: "x" } }));
  });

  it("rejects a state_key starting with @ that is not the sender", () => {
    const room = roomWithMembers("10", { powerLevels: { state_default: 0 } });
    assertRejected(room.try({ id: "$S", type: "org.example.state", sender: BOB, stateKey: CHARLIE, content: {} }), /@/);
    assertAllowed(room.try({ id: "$S", type: "org.example.state", sender: BOB, stateKey: BOB, content: {} }));
  });

  it("applies m.federate: false to senders from other servers", () => {
    const room = new RoomBuilder("10").bootstrap({ createExtra: { "m.federate": false } });
    assertRejected(room.try(member("$J", MALLORY, MALLORY, "join")), /federate/);
    room.join(BOB);
  });

  it("rejects events whose create event is missing or from another room", () => {
    const room = roomWithMembers();
    const message = room.build({ id: "$M", type: "m.room.message", sender: BOB, content: {} });
    assertRejected(authorizeEvent(message.pdu, () => undefined, room.version), /create/);
    const otherRoom = room.build({ id: "$M2", type: "m.room.message", sender: BOB, content: {}, roomId: "!other:example.com" });
    assertRejected(room.check(otherRoom), /another room/);
  });

  it("m.room.third_party_invite requires the invite level", () => {
    const room = roomWithMembers("10", { powerLevels: { invite: 50 } });
    const spec = { id: "$TPI", type: "m.room.third_party_invite", stateKey: "tok", content: { public_key: "abc" } };
    assertRejected(room.try({ ...spec, sender: BOB }), /invite level/);
    assertAllowed(room.try({ ...spec, sender: CHARLIE }));
  });
});

describe("m.room.member", () => {
  it("rejects member events without a membership", () => {
    const room = roomWithMembers();
    assertRejected(room.try({ id: "$X", type: "m.room.member", sender: BOB, stateKey: BOB, content: {} }), /membership/);
    assertRejected(room.try(member("$X", BOB, BOB, "dance")), /unknown membership/);
  });

  it("a user cannot join on behalf of someone else", () => {
    const room = new RoomBuilder("10").bootstrap();
    assertRejected(room.try(member("$J", ALICE, BOB, "join")), /another user/);
  });

  it("a level-0 user cannot kick or ban", () => {
    const room = roomWithMembers();
    room.join(EVELYN);
    assertRejected(room.try(member("$K", BOB, EVELYN, "leave")), /kick/);
    assertRejected(room.try(member("$B", BOB, EVELYN, "ban")), /ban/);
    // A moderator (50) can kick and ban a level-0 user, but not the admin.
    assertAllowed(room.try(member("$K", CHARLIE, EVELYN, "leave")));
    assertAllowed(room.try(member("$B", CHARLIE, EVELYN, "ban")));
    assertRejected(room.try(member("$B", CHARLIE, ALICE, "ban")));
    assertRejected(room.try(member("$K", CHARLIE, ALICE, "leave")));
  });

  it("a banned user cannot rejoin; unbanning needs the ban level", () => {
    const room = roomWithMembers();
    room.send(member("$BAN", ALICE, BOB, "ban"));
    assertRejected(room.try(member("$J", BOB, BOB, "join")), /banned/);
    assertRejected(room.try(member("$L", BOB, BOB, "leave")), /leave/);
    room.join(EVELYN);
    room.send(powerLevels("$P2", ALICE, { users: { [ALICE]: 100, [CHARLIE]: 50, [EVELYN]: 40 }, kick: 30 }));
    // Evelyn can kick (30) but is below the ban level (50), so cannot unban.
    assertRejected(room.try(member("$UNBAN", EVELYN, BOB, "leave")), /ban level/);
    room.send(member("$UNBAN", CHARLIE, BOB, "leave"));
    room.join(BOB, "$REJOIN");
  });

  it("users can leave when joined, invited or (v7+) knocking, but not after leaving", () => {
    const room = roomWithMembers();
    room.send(member("$LEAVE_BOB", BOB, BOB, "leave"));
    assertRejected(room.try(member("$L2", BOB, BOB, "leave")));
    room.send(member("$INVITE", ALICE, EVELYN, "invite"));
    assertAllowed(room.try(member("$REJECT", EVELYN, EVELYN, "leave")));
  });

  describe("invites", () => {
    it("joined users at the invite level may invite; the invitee may then join an invite-only room", () => {
      const room = roomWithMembers("10", { joinRule: "invite" });
      assertRejected(room.try(member("$J", EVELYN, EVELYN, "join")), /invite-only/);
      room.send(member("$INVITE_E", BOB, EVELYN, "invite"));
      room.join(EVELYN);
    });

    it("respects the invite level", () => {
      const room = roomWithMembers("10", { powerLevels: { invite: 50 } });
      assertRejected(room.try(member("$I", BOB, EVELYN, "invite")), /invite level/);
      assertAllowed(room.try(member("$I", CHARLIE, EVELYN, "invite")));
    });

    it("the inviter must be joined and the invitee not joined or banned", () => {
      const room = roomWithMembers();
      assertRejected(room.try(member("$I", EVELYN, MALLORY, "invite")), /not joined/);
      assertRejected(room.try(member("$I", BOB, CHARLIE, "invite")), /join/);
      room.send(member("$BAN", ALICE, EVELYN, "ban"));
      assertRejected(room.try(member("$I", BOB, EVELYN, "invite")), /ban/);
    });

    it("a user cannot join an invite-only room after rejecting the invite", () => {
      const room = roomWithMembers("10", { joinRule: "invite" });
      room.send(member("$INVITE_E", ALICE, EVELYN, "invite"));
      room.send(member("$REJECT", EVELYN, EVELYN, "leave"));
      assertRejected(room.try(member("$J", EVELYN, EVELYN, "join")));
    });
  });

  describe("third-party invites", () => {
    function roomWithThirdPartyInvite(): RoomBuilder {
      const room = roomWithMembers();
      room.send({ id: "$TPI", type: "m.room.third_party_invite", sender: BOB, stateKey: "token1", content: { public_key: "cHVibGlj", display_name: "e..." } });
      return room;
    }
    const signed = (mxid: string, token = "token1"): JsonObject => ({
      mxid,
      token,
      signatures: { "id.example": { "ed25519:0": "c2ln" } },
    });

    it("accepts an invite whose signed block matches the m.room.third_party_invite (structurally)", () => {
      const room = roomWithThirdPartyInvite();
      assertAllowed(room.try(member("$I", BOB, EVELYN, "invite", { third_party_invite: { display_name: "e...", signed: signed(EVELYN) } })));
    });

    it("checks mxid, token, sender and signatures", () => {
      const room = roomWithThirdPartyInvite();
      const invite = (sender: string, s: JsonObject | undefined): AuthResult =>
        room.try(member("$I", sender, EVELYN, "invite", { third_party_invite: s === undefined ? {} : { signed: s } }));
      assertRejected(invite(BOB, undefined), /signed/);
      assertRejected(invite(BOB, { mxid: EVELYN }), /mxid or token/);
      assertRejected(invite(BOB, signed(MALLORY)), /mxid/);
      assertRejected(invite(BOB, signed(EVELYN, "other")), /token/);
      assertRejected(invite(CHARLIE, signed(EVELYN)), /sender/);
      assertRejected(invite(BOB, { mxid: EVELYN, token: "token1", signatures: {} }), /signed/);
    });

    it("uses the signature verifier when one is given", () => {
      const room = roomWithThirdPartyInvite();
      const spec = member("$I", BOB, EVELYN, "invite", { third_party_invite: { signed: signed(EVELYN) } });
      const seen: string[][] = [];
      assertRejected(room.try(spec, { verifyThirdPartyInviteSignature: (_s, keys) => (seen.push([...keys]), false) }));
      assert.deepEqual(seen, [["cHVibGlj"]]);
      assertAllowed(room.try(spec, { verifyThirdPartyInviteSignature: () => true }));
    });

    it("rejects a third-party invite of a banned user", () => {
      const room = roomWithThirdPartyInvite();
      room.send(member("$BAN", ALICE, EVELYN, "ban"));
      assertRejected(room.try(member("$I", BOB, EVELYN, "invite", { third_party_invite: { signed: signed(EVELYN) } })), /banned/);
    });
  });

  describe("restricted joins", () => {
    const restrictedJoin = (authoriser: string | undefined, signedBy: string[] = ["example.com"]): EventSpec => ({
      ...member("$J", EVELYN, EVELYN, "join", authoriser === undefined ? {} : { join_authorised_via_users_server: authoriser }),
      signedBy,
    });

    it("v8+: a join authorised by a joined user who can invite is allowed", () => {
      for (const versionId of ["8", "9", "10", "11", "12"]) {
        const room = roomWithMembers(versionId, { joinRule: "restricted", powerLevels: { invite: 50 } });
        assertAllowed(room.try(restrictedJoin(CHARLIE)), versionId);
        assertRejected(room.try(restrictedJoin(BOB)), /cannot invite/);
        assertRejected(room.try(restrictedJoin(undefined)), /join_authorised_via_users_server/);
        assertRejected(room.try(restrictedJoin(EVELYN)), /not joined/);
      }
    });

    it("requires a signature from the authorising user's server", () => {
      const room = roomWithMembers("10", { joinRule: "restricted" });
      assertRejected(room.try({ ...restrictedJoin(MALLORY), signedBy: [] }), /signed/);
    });

    it("invited users join a restricted room without an authoriser", () => {
      const room = roomWithMembers("10", { joinRule: "restricted" });
      room.send(member("$INVITE_E", ALICE, EVELYN, "invite"));
      assertAllowed(room.try(restrictedJoin(undefined)));
    });

    it("the restricted join rule does not exist before v8, nor knock_restricted before v10", () => {
      const v7 = roomWithMembers("7", { joinRule: "invite" });
      v7.send({ id: "$JR2", type: "m.room.join_rules", sender: ALICE, stateKey: "", content: { join_rule: "restricted" } });
      assertRejected(v7.try(restrictedJoin(CHARLIE)));
      const v9 = roomWithMembers("9", { joinRule: "invite" });
      v9.send({ id: "$JR2", type: "m.room.join_rules", sender: ALICE, stateKey: "", content: { join_rule: "knock_restricted" } });
      assertRejected(v9.try(restrictedJoin(CHARLIE)));
      assertRejected(v9.try(member("$K", EVELYN, EVELYN, "knock")));
    });

    it("v10: knock_restricted allows both restricted joins and knocks", () => {
      const room = roomWithMembers("10", { joinRule: "knock_restricted" });
      assertAllowed(room.try(restrictedJoin(CHARLIE)));
      assertAllowed(room.try(member("$K", EVELYN, EVELYN, "knock")));
    });
  });

  describe("knocking", () => {
    it("v7+: knocking on a knock room, then being invited and joining", () => {
      const room = roomWithMembers("7", { joinRule: "knock" });
      assertRejected(room.try(member("$K", BOB, EVELYN, "knock")), /behalf/);
      room.send(member("$KNOCK", EVELYN, EVELYN, "knock"));
      assertRejected(room.try(member("$J", EVELYN, EVELYN, "join")));
      room.send(member("$INVITE_E", ALICE, EVELYN, "invite"));
      room.join(EVELYN);
      assertRejected(room.try(member("$K2", EVELYN, EVELYN, "knock")), /join/);
    });

    it("a knocking user may withdraw the knock", () => {
      const room = roomWithMembers("7", { joinRule: "knock" });
      room.send(member("$KNOCK", EVELYN, EVELYN, "knock"));
      assertAllowed(room.try(member("$L", EVELYN, EVELYN, "leave")));
    });

    it("rejects knocks on public rooms and before v7", () => {
      assertRejected(roomWithMembers("7").try(member("$K", EVELYN, EVELYN, "knock")), /knock/);
      const v6 = roomWithMembers("6", { joinRule: "invite" });
      v6.send({ id: "$JR2", type: "m.room.join_rules", sender: ALICE, stateKey: "", content: { join_rule: "knock" } });
      assertRejected(v6.try(member("$K", EVELYN, EVELYN, "knock")), /unknown membership/);
      assertRejected(v6.try(member("$J", EVELYN, EVELYN, "join")));
    });
  });
});

describe("m.room.power_levels", () => {
  it("a level-0 user cannot change power levels", () => {
    const room = roomWithMembers();
    assertRejected(room.try(powerLevels("$P", BOB, { users: { [ALICE]: 100, [CHARLIE]: 50 } })), /power level 50/);
  });

  it("a user cannot raise someone above their own level", () => {
    const room = roomWithMembers("10", { powerLevels: { events: { "m.room.power_levels": 50 } } });
    const base = { [ALICE]: 100, [CHARLIE]: 50 };
    assertRejected(room.try(powerLevels("$P", CHARLIE, { users: { ...base, [BOB]: 75 } })), /raise/);
    assertAllowed(room.try(powerLevels("$P", CHARLIE, { users: { ...base, [BOB]: 50 } })));
    assertRejected(room.try(powerLevels("$P", CHARLIE, { users: { ...base, [CHARLIE]: 60 } })), /raise/);
  });

  it("a user cannot demote someone at or above their level but can demote themselves", () => {
    const room = roomWithMembers("10", { powerLevels: { events: { "m.room.power_levels": 50 } } });
    room.join(EVELYN);
    room.send(powerLevels("$P1", ALICE, { users: { [ALICE]: 100, [CHARLIE]: 50, [EVELYN]: 50 }, events: { "m.room.power_levels": 50 } }));
    assertRejected(room.try(powerLevels("$P", CHARLIE, { users: { [ALICE]: 100, [CHARLIE]: 50, [EVELYN]: 0 }, events: { "m.room.power_levels": 50 } })), /not below/);
    assertRejected(room.try(powerLevels("$P", CHARLIE, { users: { [ALICE]: 100, [CHARLIE]: 50 }, events: { "m.room.power_levels": 50 } })), /not below/);
    assertAllowed(room.try(powerLevels("$P", CHARLIE, { users: { [ALICE]: 100, [CHARLIE]: 10, [EVELYN]: 50 }, events: { "m.room.power_levels": 50 } })));
  });

  it("named levels and events entries cannot be moved from or to above the sender's level", () => {
    const room = roomWithMembers("10", { powerLevels: { events: { "m.room.power_levels": 50, "m.room.tombstone": 100 } } });
    const base = { users: { [ALICE]: 100, [CHARLIE]: 50 }, events: { "m.room.power_levels": 50, "m.room.tombstone": 100 } };
    assertRejected(room.try(powerLevels("$P", CHARLIE, { ...base, ban: 60 })), /"ban"/);
    assertAllowed(room.try(powerLevels("$P", CHARLIE, { ...base, ban: 40 })));
    assertRejected(room.try(powerLevels("$P", CHARLIE, { ...base, events: { "m.room.power_levels": 50 } })), /tombstone/);
    assertRejected(room.try(powerLevels("$P", CHARLIE, { ...base, events: { ...base.events, "m.room.name": 51 } })), /m.room.name/);
    assertAllowed(room.try(powerLevels("$P", CHARLIE, { ...base, events: { ...base.events, "m.room.name": 50 } })));
  });

  it("v6+ also protects notifications levels", () => {
    for (const [versionId, expectAllowed] of [["5", true], ["6", false]] as const) {
      const room = roomWithMembers(versionId, { powerLevels: { events: { "m.room.power_levels": 50 }, notifications: { room: 80 } } });
      const result = room.try(powerLevels("$P", CHARLIE, { users: { [ALICE]: 100, [CHARLIE]: 50 }, events: { "m.room.power_levels": 50 }, notifications: { room: 10 } }));
      assert.equal(result.allowed, expectAllowed, versionId);
    }
  });

  it("v10 rejects stringy power levels while v9 accepts them", () => {
    for (const [versionId, expectAllowed] of [["9", true], ["10", false]] as const) {
      const room = roomWithMembers(versionId);
      const stringy = powerLevels("$P", ALICE, { users: { [ALICE]: "100", [CHARLIE]: "50" }, ban: "50", events: { "m.room.name": "50" } });
      assert.equal(room.try(stringy).allowed, expectAllowed, versionId);
    }
    // And in v9 the stringy levels take effect.
    const room = roomWithMembers("9");
    room.send(powerLevels("$P", ALICE, { users: { [ALICE]: "100", [CHARLIE]: "50", [BOB]: " 60 " }, kick: "55" }));
    room.join(EVELYN);
    assertAllowed(room.try(member("$K", BOB, EVELYN, "leave")));
    assertRejected(room.try(member("$K", CHARLIE, EVELYN, "leave")));
  });

  it("rejects invalid users keys and unreadable values", () => {
    const room = roomWithMembers("9");
    assertRejected(room.try(powerLevels("$P", ALICE, { users: { [ALICE]: 100, bob: 10 } })), /user ID/);
    assertRejected(room.try(powerLevels("$P", ALICE, { users: { [ALICE]: 100 }, ban: "lots" })), /ban/);
  });

  it("the first power levels event only needs valid content", () => {
    const room = new RoomBuilder("10");
    room.send({ id: "$CREATE", type: "m.room.create", sender: ALICE, stateKey: "", content: { creator: ALICE } });
    room.send(member("$J", ALICE, ALICE, "join"));
    room.send(powerLevels("$P", ALICE, { users: { [ALICE]: 100, [BOB]: 1000 } }));
  });
});

describe("room version specifics", () => {
  it("v1-v5: m.room.aliases may only be sent for the sender's own server, even by non-members", () => {
    const room = roomWithMembers("5");
    assertAllowed(room.try({ id: "$A", type: "m.room.aliases", sender: MALLORY, stateKey: "other.example", content: { aliases: [] } }));
    assertRejected(room.try({ id: "$A", type: "m.room.aliases", sender: BOB, stateKey: "other.example", content: { aliases: [] } }), /server name/);
    assertRejected(room.try({ id: "$A", type: "m.room.aliases", sender: BOB, content: { aliases: [] } }), /state event/);
  });

  it("v6+: m.room.aliases follows the ordinary rules", () => {
    const room = roomWithMembers("6");
    assertRejected(room.try({ id: "$A", type: "m.room.aliases", sender: MALLORY, stateKey: "other.example", content: { aliases: [] } }), /not joined/);
    assertRejected(room.try({ id: "$A", type: "m.room.aliases", sender: BOB, stateKey: "example.com", content: { aliases: [] } }), /power level/);
  });

  it("v1-v2: redactions need the redact level or the same server as the redacted event", () => {
    const room = roomWithMembers("1");
    room.join(MALLORY);
    const redaction = (sender: string, id: string, redacts: string): AuthResult =>
      room.try({ id, type: "m.room.redaction", sender, redacts, content: {} });
    assertAllowed(redaction(BOB, "$R:example.com", "$M:example.com"));
    assertRejected(redaction(MALLORY, "$R:other.example", "$M:example.com"), /own server/);
    assertAllowed(redaction(CHARLIE, "$R:example.com", "$M:other.example"));
  });

  it("v3+: redactions are not restricted by the auth rules", () => {
    const room = roomWithMembers("3");
    room.join(MALLORY);
    assertAllowed(room.try({ id: "$R", type: "m.room.redaction", sender: MALLORY, redacts: "$M", content: {} }));
  });

  describe("v12", () => {
    it("derives the room ID from the create event and does not cite it in auth events", () => {
      const room = new RoomBuilder("12").bootstrap();
      assert.equal(room.roomId, "!CREATE");
      const join = room.events.get("$JOIN_CREATOR");
      assert.deepEqual(join?.pdu.auth_events, []);
      assert.deepEqual(selectAuthEventKeys("m.room.topic", ALICE, "", {}, room.version), [
        ["m.room.power_levels", ""],
        ["m.room.member", ALICE],
      ]);
      assert.ok(join !== undefined && getAuthEventIds(join.pdu, room.version).includes("$CREATE"));
    });

    it("rejects events whose room ID does not name the create event", () => {
      const room = new RoomBuilder("12").bootstrap();
      assertRejected(room.try({ id: "$M", type: "m.room.message", sender: ALICE, content: {}, roomId: "!OTHER" }), /room ID/);
    });

    it("creators have infinite power and cannot be listed in power levels", () => {
      const room = new RoomBuilder("12").bootstrap({ createExtra: { additional_creators: [BOB] }, users: { [CHARLIE]: 100 } });
      room.join(BOB);
      room.join(CHARLIE);
      // A 100-level admin cannot act against a creator...
      assertRejected(room.try(member("$B", CHARLIE, BOB, "ban")));
      assertRejected(room.try(member("$K", CHARLIE, ALICE, "leave")));
      // ...but an additional creator can act against any admin, and set any level.
      assertAllowed(room.try(member("$B", BOB, CHARLIE, "ban")));
      assertAllowed(room.try(powerLevels("$P", BOB, { users: { [CHARLIE]: 0 }, ban: 1_000_000 })));
      // Creators cannot be given a level through power levels.
      assertRejected(room.try(powerLevels("$P", ALICE, { users: { [CHARLIE]: 100, [BOB]: 50 } })), /creator/);
      assertRejected(room.try(powerLevels("$P", ALICE, { users: { [ALICE]: 100 } })), /creator/);
    });
  });
});

describe("auth events", () => {
  it("selects create, power levels, memberships, join rules, third-party invite and authoriser", () => {
    const v10 = roomVersion("10");
    assert.deepEqual(selectAuthEventKeys("m.room.create", ALICE, "", {}, v10), []);
    assert.deepEqual(
      selectAuthEventKeys("m.room.member", BOB, EVELYN, { membership: "invite", third_party_invite: { signed: { token: "tok" } } }, v10),
      [
        ["m.room.create", ""],
        ["m.room.power_levels", ""],
        ["m.room.member", BOB],
        ["m.room.member", EVELYN],
        ["m.room.join_rules", ""],
        ["m.room.third_party_invite", "tok"],
      ],
    );
    assert.deepEqual(selectAuthEventKeys("m.room.member", EVELYN, EVELYN, { membership: "join", join_authorised_via_users_server: CHARLIE }, v10), [
      ["m.room.create", ""],
      ["m.room.power_levels", ""],
      ["m.room.member", EVELYN],
      ["m.room.join_rules", ""],
      ["m.room.member", CHARLIE],
    ]);
    // Before v8 the authoriser is not an auth event; leaves need no join rules.
    assert.equal(selectAuthEventKeys("m.room.member", EVELYN, EVELYN, { membership: "join", join_authorised_via_users_server: CHARLIE }, roomVersion("7")).length, 4);
    assert.equal(selectAuthEventKeys("m.room.member", EVELYN, EVELYN, { membership: "leave" }, v10).length, 3);
  });

  function roomAndEvent(versionId = "10"): { room: RoomBuilder; event: StoredEvent; authEvents: StoredEvent[] } {
    const room = roomWithMembers(versionId);
    const event = room.build({ id: "$T", type: "m.room.topic", sender: CHARLIE, stateKey: "", content: { topic: "t" } });
    const authEvents = event.pdu.auth_events.map((ref) => {
      const found = room.events.get(typeof ref === "string" ? ref : ref[0]);
      assert.ok(found !== undefined);
      return found;
    });
    return { room, event, authEvents };
  }

  it("accepts an event with correctly selected auth events", () => {
    const { room, event, authEvents } = roomAndEvent();
    assertAllowed(authorizeEventWithAuthEvents(event.pdu, authEvents, room.version));
  });

  it("rejects duplicate, unexpected, unknown, rejected and missing-create auth events", () => {
    const { room, event, authEvents } = roomAndEvent();
    const withAuth = (ids: string[]): StoredEvent => ({ ...event, pdu: { ...event.pdu, auth_events: ids } });
    const all = [...room.events.values()];
    assertRejected(checkAuthEventsList(withAuth([...event.pdu.auth_events.map(String), "$JOIN_RULES"]).pdu, all, room.version), /may cite/);
    assertRejected(checkAuthEventsList(withAuth(["$CREATE", "$POWER", "$JOIN_CHARLIE", "$JOIN_CREATOR"]).pdu, all, room.version), /may cite/);
    assertRejected(checkAuthEventsList(withAuth(["$CREATE", "$CREATE"]).pdu, all, room.version), /two events/);
    assertRejected(checkAuthEventsList(withAuth(["$POWER", "$JOIN_CHARLIE"]).pdu, all, room.version), /m.room.create/);
    assertRejected(checkAuthEventsList(withAuth(["$CREATE", "$NOPE"]).pdu, all, room.version), /unknown/);
    assertRejected(checkAuthEventsList(event.pdu, authEvents, room.version, { isRejected: (id) => id === "$POWER" }), /rejected/);
  });

  it("rejects auth events from another room", () => {
    const { room, event, authEvents } = roomAndEvent();
    const foreign = authEvents.map((e) => (e.eventId === "$POWER" ? { ...e, pdu: { ...e.pdu, room_id: "!other:example.com" } } : e));
    assertRejected(checkAuthEventsList(event.pdu, foreign, room.version), /another room/);
  });

  it("v12: the create event must not be cited but is supplied separately", () => {
    const room = roomWithMembers("12");
    const event = room.build({ id: "$T", type: "m.room.topic", sender: CHARLIE, stateKey: "", content: { topic: "t" } });
    const create = room.events.get("$CREATE");
    assert.ok(create !== undefined);
    const authEvents = event.pdu.auth_events.map((ref) => room.events.get(String(ref))).filter((e): e is StoredEvent => e !== undefined);
    assertAllowed(authorizeEventWithAuthEvents(event.pdu, authEvents, room.version, { createEvent: create }));
    assertRejected(authorizeEventWithAuthEvents(event.pdu, authEvents, room.version), /create/);
    const citingCreate = { ...event.pdu, auth_events: [...event.pdu.auth_events, "$CREATE"] };
    assertRejected(checkAuthEventsList(citingCreate, [...authEvents, create], room.version), /may cite/);
  });

  it("authorising against state only reads the selected keys", () => {
    const room = roomWithMembers();
    const event = room.build({ id: "$M", type: "m.room.message", sender: BOB, content: {} });
    // A lookup that would answer for everything still only gets asked about relevant keys.
    const asked: string[] = [];
    const result = authorizeEventAgainstState(event.pdu, (type, key) => (asked.push(`${type}|${key}`), room.lookup(type, key)), room.version);
    assertAllowed(result);
    assert.ok(!asked.includes("m.room.join_rules|"));
    assert.ok(asked.includes(`m.room.member|${BOB}`));
  });
});
