import assert from "node:assert/strict";
import { describe, it } from "node:test";
import {
  CREATOR_POWER_LEVEL,
  DEFAULT_POWER_LEVELS,
  getPrivilegedCreators,
  getRequiredPowerLevelForEvent,
  getRoomCreator,
  getUserPowerLevel,
  notificationPowerLevel,
  parsePowerLevelValue,
  parsePowerLevels,
  validatePowerLevelsContent,
} from "../../src/core/auth/power-levels";
import { ALICE, BOB, CHARLIE, RoomBuilder, roomVersion } from "./support/room-builder";

const v1 = roomVersion("1");
const v6 = roomVersion("6");
const v9 = roomVersion("9");
const v10 = roomVersion("10");

describe("parsePowerLevelValue", () => {
  it("accepts integers in every room version", () => {
    for (const version of [v1, v9, v10]) {
      assert.equal(parsePowerLevelValue(50, version), 50);
      assert.equal(parsePowerLevelValue(-7, version), -7);
    }
  });

  it("accepts integer strings before v10, in the forms the spec allows", () => {
    assert.equal(parsePowerLevelValue("100", v9), 100);
    assert.equal(parsePowerLevelValue("000100", v9), 100);
    assert.equal(parsePowerLevelValue("+100", v9), 100);
    assert.equal(parsePowerLevelValue("-100", v9), -100);
    assert.equal(parsePowerLevelValue(" 00100 ", v9), 100);
    assert.equal(parsePowerLevelValue("-0", v9), 0);
  });

  it("rejects strings that are not integers", () => {
    for (const value of ["", "abc", "1.5", "1e3", "10 0", "++1", "0x10"]) {
      assert.equal(parsePowerLevelValue(value, v9), undefined, value);
    }
  });

  it("rejects strings and non-integers from v10", () => {
    assert.equal(parsePowerLevelValue("100", v10), undefined);
    assert.equal(parsePowerLevelValue(50.5, v10), undefined);
  });

  it("truncates floats in versions without canonical JSON", () => {
    assert.equal(parsePowerLevelValue(50.57, v1), 50);
    assert.equal(parsePowerLevelValue(-3.9, v1), -3);
  });

  it("rejects other JSON types", () => {
    for (const value of [null, true, [], {}, undefined]) {
      assert.equal(parsePowerLevelValue(value, v9), undefined);
    }
  });
});

describe("parsePowerLevels", () => {
  it("applies the schema defaults when there is no power levels event", () => {
    const levels = parsePowerLevels(undefined, v10);
    assert.deepEqual(
      {
        usersDefault: levels.usersDefault,
        eventsDefault: levels.eventsDefault,
        stateDefault: levels.stateDefault,
        ban: levels.ban,
        kick: levels.kick,
        redact: levels.redact,
        invite: levels.invite,
      },
      { usersDefault: 0, eventsDefault: 0, stateDefault: 50, ban: 50, kick: 50, redact: 50, invite: 0 },
    );
    assert.equal(notificationPowerLevel(levels, "room"), 50);
    assert.equal(notificationPowerLevel(levels, "other"), undefined);
  });

  it("applies defaults for missing properties of an event", () => {
    const levels = parsePowerLevels({ ban: 75, users: { [BOB]: 20 }, notifications: { room: 10 } }, v10);
    assert.equal(levels.ban, 75);
    assert.equal(levels.kick, DEFAULT_POWER_LEVELS.kick);
    assert.equal(levels.stateDefault, 50);
    assert.equal(levels.users.get(BOB), 20);
    assert.equal(notificationPowerLevel(levels, "room"), 10);
  });

  it("reads stringy values before v10 and ignores them from v10", () => {
    const content = { ban: "80", users: { [BOB]: "30" }, events: { "m.room.name": "60" } };
    const v9Levels = parsePowerLevels(content, v9);
    assert.equal(v9Levels.ban, 80);
    assert.equal(v9Levels.users.get(BOB), 30);
    assert.equal(v9Levels.events.get("m.room.name"), 60);
    const v10Levels = parsePowerLevels(content, v10);
    assert.equal(v10Levels.ban, 50);
    assert.equal(v10Levels.users.get(BOB), undefined);
  });
});

describe("validatePowerLevelsContent", () => {
  it("accepts well-formed content", () => {
    const content = { users: { [ALICE]: 100 }, events: { "m.room.name": 50 }, notifications: { room: 20 }, ban: 50 };
    assert.equal(validatePowerLevelsContent(content, v10), undefined);
  });

  it("accepts stringy values in v9 and rejects them in v10", () => {
    const content = { users: { [ALICE]: "100" }, state_default: "50" };
    assert.equal(validatePowerLevelsContent(content, v9), undefined);
    assert.match(validatePowerLevelsContent(content, v10) ?? "", /state_default|users|power level/);
    assert.notEqual(validatePowerLevelsContent({ events: { "m.room.name": "50" } }, v10), undefined);
    assert.notEqual(validatePowerLevelsContent({ notifications: { room: "50" } }, v10), undefined);
  });

  it("rejects users keys that are not user IDs", () => {
    assert.notEqual(validatePowerLevelsContent({ users: { alice: 100 } }, v6), undefined);
    assert.notEqual(validatePowerLevelsContent({ users: { "@alice": 100 } }, v6), undefined);
  });

  it("rejects non-object maps", () => {
    assert.notEqual(validatePowerLevelsContent({ users: [] }, v6), undefined);
    assert.notEqual(validatePowerLevelsContent({ events: "x" }, v6), undefined);
  });
});

describe("getUserPowerLevel", () => {
  it("gives the creator 100 and others 0 when there is no power levels event (v1: content.creator)", () => {
    const room = new RoomBuilder("1");
    room.add({ id: "$CREATE", type: "m.room.create", sender: BOB, stateKey: "", content: { creator: ALICE } });
    assert.equal(getUserPowerLevel(ALICE, room.lookup, room.version), 100);
    assert.equal(getUserPowerLevel(BOB, room.lookup, room.version), 0);
  });

  it("uses the create event's sender as the creator from v11", () => {
    const room = new RoomBuilder("11");
    room.add({ id: "$CREATE", type: "m.room.create", sender: BOB, stateKey: "", content: { creator: ALICE } });
    assert.equal(getRoomCreator(room.lookup("m.room.create", "")?.pdu, room.version), BOB);
    assert.equal(getUserPowerLevel(BOB, room.lookup, room.version), 100);
    assert.equal(getUserPowerLevel(ALICE, room.lookup, room.version), 0);
  });

  it("reads users and users_default from the power levels event", () => {
    const room = new RoomBuilder("10").bootstrap({ powerLevels: { users_default: 5 }, users: { [BOB]: 40 } });
    assert.equal(getUserPowerLevel(ALICE, room.lookup, room.version), 100);
    assert.equal(getUserPowerLevel(BOB, room.lookup, room.version), 40);
    assert.equal(getUserPowerLevel(CHARLIE, room.lookup, room.version), 5);
  });

  it("gives v12 creators, including additional creators, infinite power", () => {
    const room = new RoomBuilder("12").bootstrap({ createExtra: { additional_creators: [BOB] }, powerLevels: { users_default: 5 } });
    assert.equal(getUserPowerLevel(ALICE, room.lookup, room.version), CREATOR_POWER_LEVEL);
    assert.equal(getUserPowerLevel(BOB, room.lookup, room.version), Number.POSITIVE_INFINITY);
    assert.equal(getUserPowerLevel(CHARLIE, room.lookup, room.version), 5);
    assert.deepEqual([...getPrivilegedCreators(room.lookup("m.room.create", "")?.pdu, room.version)], [ALICE, BOB]);
  });

  it("does not treat additional_creators specially before v12", () => {
    const room = new RoomBuilder("11").bootstrap({ createExtra: { additional_creators: [BOB] } });
    assert.equal(getUserPowerLevel(BOB, room.lookup, room.version), 0);
  });
});

describe("getRequiredPowerLevelForEvent", () => {
  it("uses events overrides, then state_default or events_default", () => {
    const room = new RoomBuilder("10").bootstrap({
      powerLevels: { events: { "m.room.name": 70, "m.reaction": 3 }, state_default: 40, events_default: 1 },
    });
    assert.equal(getRequiredPowerLevelForEvent("m.room.name", "", room.lookup, room.version), 70);
    assert.equal(getRequiredPowerLevelForEvent("m.reaction", undefined, room.lookup, room.version), 3);
    assert.equal(getRequiredPowerLevelForEvent("m.room.topic", "", room.lookup, room.version), 40);
    assert.equal(getRequiredPowerLevelForEvent("m.room.message", undefined, room.lookup, room.version), 1);
  });

  it("defaults to 50 for state and 0 for messages without a power levels event", () => {
    const room = new RoomBuilder("10");
    room.add({ id: "$CREATE", type: "m.room.create", sender: ALICE, stateKey: "", content: { creator: ALICE } });
    assert.equal(getRequiredPowerLevelForEvent("m.room.topic", "", room.lookup, room.version), 50);
    assert.equal(getRequiredPowerLevelForEvent("m.room.message", undefined, room.lookup, room.version), 0);
  });
});
