import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { JsonObject, PDU, StoredEvent } from "../../src/core/events/pdu";
import type { RoomVersion } from "../../src/core/room-versions";
import { roomIdFromCreateEventId, selectAuthEventKeys } from "../../src/core/auth/auth-events";
import { stateTupleKey, stateTupleKeyOf, type StateMap, type StateTupleKey } from "../../src/core/auth/state-map";
import { resolveStateV1, separateStateSetsV1 } from "../../src/core/state-resolution/v1";
import {
  EventCache,
  compareByCodePoint,
  conflictedStateSubgraph,
  lexicographicalTopologicalSort,
  mainlineOrder,
  resolveStateV2,
  separateStateSets,
} from "../../src/core/state-resolution/v2";
import { ALICE, BOB, CHARLIE, EVELYN, ZARA, eventSource, roomVersion } from "./support/room-builder";

// ---------------------------------------------------------------------------
// A DAG harness: nodes and prev-event edges; the state at each node is computed by
// resolving the states after its prev events, and each node's auth events are chosen
// from the state before it.
// ---------------------------------------------------------------------------

interface Node {
  readonly id: string;
  readonly sender: string;
  readonly type: string;
  readonly stateKey?: string;
  readonly content?: JsonObject;
}

const join: JsonObject = { membership: "join" };

function initialNodes(version: RoomVersion): Node[] {
  return [
    { id: "CREATE", sender: ALICE, type: "m.room.create", stateKey: "", content: version.implicitRoomCreator ? {} : { creator: ALICE } },
    { id: "IMA", sender: ALICE, type: "m.room.member", stateKey: ALICE, content: join },
    { id: "IPOWER", sender: ALICE, type: "m.room.power_levels", stateKey: "", content: { users: { [ALICE]: 100 } } },
    { id: "IJR", sender: ALICE, type: "m.room.join_rules", stateKey: "", content: { join_rule: "public" } },
    { id: "IMB", sender: BOB, type: "m.room.member", stateKey: BOB, content: join },
    { id: "IMC", sender: CHARLIE, type: "m.room.member", stateKey: CHARLIE, content: join },
    { id: "IMZ", sender: ZARA, type: "m.room.member", stateKey: ZARA, content: join },
    { id: "START", sender: ZARA, type: "m.room.message" },
    { id: "END", sender: ZARA, type: "m.room.message" },
  ];
}
const INITIAL_CHAIN = ["START", "IMZ", "IMC", "IMB", "IJR", "IPOWER", "IMA", "CREATE"];

const eventIdOf = (nodeId: string): string => `$${nodeId}`;

type Resolver = (stateSets: StateMap<string>[], events: ReadonlyMap<string, StoredEvent>, version: RoomVersion) => Promise<StateMap<string>>;
const resolveV2: Resolver = (stateSets, events, version) => resolveStateV2(stateSets, eventSource(events), version);
const resolveV1: Resolver = (stateSets, events, version) => resolveStateV1(stateSets, eventSource(events), version);

/**
 * Builds the DAG (edges are chains `[A, B, C]` meaning A's prev event is B, B's is C),
 * computes the state at END and returns the part that differs from START plus the keys
 * of `expected`, as node IDs.
 */
async function stateAtEnd(
  versionId: string,
  nodes: readonly Node[],
  edges: readonly string[][],
  expected: readonly string[],
  resolve: Resolver = resolveV2,
): Promise<{ actual: Map<StateTupleKey, string>; wanted: Map<StateTupleKey, string> }> {
  const version = roomVersion(versionId);
  const byId = new Map<string, Node>();
  const prevs = new Map<string, Set<string>>();
  for (const node of [...initialNodes(version), ...nodes]) {
    byId.set(node.id, node);
    prevs.set(node.id, new Set());
  }
  for (const chain of [INITIAL_CHAIN, ...edges]) {
    for (let i = 0; i + 1 < chain.length; i++) prevs.get(chain[i] as string)?.add(chain[i + 1] as string);
  }

  const roomId = version.roomIdFromCreateEvent ? roomIdFromCreateEventId(eventIdOf("CREATE")) : "!test:example.com";
  const events = new Map<string, StoredEvent>();
  const stateAfter = new Map<string, StateMap<string>>();
  let clock = 0;
  const order = lexicographicalTopologicalSort(prevs, compareByCodePoint);
  for (const nodeId of order) {
    const node = byId.get(nodeId);
    assert.ok(node !== undefined);
    const prevIds = [...(prevs.get(nodeId) ?? [])];
    const prevStates = prevIds.map((id) => stateAfter.get(id) ?? new Map<StateTupleKey, string>());
    const stateBefore: StateMap<string> =
      prevStates.length === 0 ? new Map() : prevStates.length === 1 ? new Map(prevStates[0]) : await resolve(prevStates, events, version);

    const content = node.content ?? {};
    const authEvents = selectAuthEventKeys(node.type, node.sender, node.stateKey, content, version)
      .map(([type, key]) => stateBefore.get(stateTupleKey(type, key)))
      .filter((id): id is string => id !== undefined);
    const pdu: PDU = {
      sender: node.sender,
      origin_server_ts: clock++,
      type: node.type,
      content,
      prev_events: prevIds.map(eventIdOf),
      auth_events: authEvents,
      depth: 1 + Math.max(0, ...prevIds.map((id) => events.get(eventIdOf(id))?.pdu.depth ?? 0)),
      hashes: { sha256: "" },
      signatures: {},
    };
    if (!(node.type === "m.room.create" && version.roomIdFromCreateEvent)) pdu.room_id = roomId;
    if (node.stateKey !== undefined) pdu.state_key = node.stateKey;
    if (version.eventIdFormat === "v1") pdu.event_id = eventIdOf(nodeId);
    events.set(eventIdOf(nodeId), { eventId: eventIdOf(nodeId), pdu });

    const after = new Map(stateBefore);
    const key = stateTupleKeyOf(pdu);
    if (key !== undefined) after.set(key, eventIdOf(nodeId));
    stateAfter.set(nodeId, after);
  }

  const wanted = new Map<StateTupleKey, string>();
  for (const nodeId of expected) {
    const event = events.get(eventIdOf(nodeId));
    const key = event === undefined ? undefined : stateTupleKeyOf(event.pdu);
    assert.ok(key !== undefined, `${nodeId} is not a state event`);
    wanted.set(key, nodeId);
  }
  const startState = stateAfter.get("START") ?? new Map();
  const actual = new Map<StateTupleKey, string>();
  for (const [key, eventId] of stateAfter.get("END") ?? new Map<StateTupleKey, string>()) {
    if (wanted.has(key) || startState.get(key) !== eventId) actual.set(key, eventId.slice(1));
  }
  return { actual, wanted };
}

async function checkDag(versionId: string, nodes: readonly Node[], edges: readonly string[][], expected: readonly string[]): Promise<void> {
  const { actual, wanted } = await stateAtEnd(versionId, nodes, edges, expected);
  assert.deepEqual(actual, wanted);
}

const pl = (id: string, sender: string, users: JsonObject, extra: JsonObject = {}): Node => ({
  id,
  sender,
  type: "m.room.power_levels",
  stateKey: "",
  content: { users, ...extra },
});
const topic = (id: string, sender: string): Node => ({ id, sender, type: "m.room.topic", stateKey: "", content: {} });

// Room versions using state resolution v2 with differing auth details (stringy levels,
// creator field) — the scenarios must resolve the same in all of them.
const V2_VERSIONS = ["2", "6", "10", "11"];

describe("state resolution v2 scenarios", () => {
  for (const versionId of V2_VERSIONS) {
    describe(`room version ${versionId}`, () => {
      it("ban vs. concurrent power levels: the admin's ban wins", async () => {
        await checkDag(
          versionId,
          [
            pl("PA", ALICE, { [ALICE]: 100, [BOB]: 50 }),
            { id: "MA", sender: ALICE, type: "m.room.member", stateKey: ALICE, content: join },
            { id: "MB", sender: ALICE, type: "m.room.member", stateKey: BOB, content: { membership: "ban" } },
            pl("PB", BOB, { [ALICE]: 100, [BOB]: 50 }),
          ],
          [
            ["END", "MB", "MA", "PA", "START"],
            ["END", "PB", "PA"],
          ],
          ["PA", "MA", "MB"],
        );
      });

      it("join rule change vs. concurrent join: the join is not allowed", async () => {
        await checkDag(
          versionId,
          [
            { id: "JR", sender: ALICE, type: "m.room.join_rules", stateKey: "", content: { join_rule: "invite" } },
            { id: "ME", sender: EVELYN, type: "m.room.member", stateKey: EVELYN, content: join },
          ],
          [
            ["END", "JR", "START"],
            ["END", "ME", "START"],
          ],
          ["JR"],
        );
      });

      it("offtopic power levels: a chain of delegated power levels survives", async () => {
        await checkDag(
          versionId,
          [
            pl("PA", ALICE, { [ALICE]: 100, [BOB]: 50 }),
            pl("PB", BOB, { [ALICE]: 100, [BOB]: 50, [CHARLIE]: 50 }),
            pl("PC", CHARLIE, { [ALICE]: 100, [BOB]: 50, [CHARLIE]: 0 }),
          ],
          [
            ["END", "PC", "PB", "PA", "START"],
            ["END", "PA"],
          ],
          ["PC"],
        );
      });

      it("topic basic: a demoted user's topic loses", async () => {
        await checkDag(
          versionId,
          [
            topic("T1", ALICE),
            pl("PA1", ALICE, { [ALICE]: 100, [BOB]: 50 }),
            topic("T2", ALICE),
            pl("PA2", ALICE, { [ALICE]: 100, [BOB]: 0 }),
            pl("PB", BOB, { [ALICE]: 100, [BOB]: 50 }),
            topic("T3", BOB),
          ],
          [
            ["END", "PA2", "T2", "PA1", "T1", "START"],
            ["END", "T3", "PB", "PA1"],
          ],
          ["PA2", "T2"],
        );
      });

      it("topic reset: a banned user's topic is reverted", async () => {
        await checkDag(
          versionId,
          [
            topic("T1", ALICE),
            pl("PA", ALICE, { [ALICE]: 100, [BOB]: 50 }),
            topic("T2", BOB),
            { id: "MB", sender: ALICE, type: "m.room.member", stateKey: BOB, content: { membership: "ban" } },
          ],
          [
            ["END", "MB", "T2", "PA", "T1", "START"],
            ["END", "T1"],
          ],
          ["T1", "MB", "PA"],
        );
      });

      it("topic: a later topic by the admin wins over one by the demoted user", async () => {
        await checkDag(
          versionId,
          [
            topic("T1", ALICE),
            pl("PA1", ALICE, { [ALICE]: 100, [BOB]: 50 }),
            topic("T2", ALICE),
            pl("PA2", ALICE, { [ALICE]: 100, [BOB]: 0 }),
            pl("PB", BOB, { [ALICE]: 100, [BOB]: 50 }),
            topic("T3", BOB),
            { id: "MZ1", sender: ZARA, type: "m.room.message" },
            topic("T4", ALICE),
          ],
          [
            ["END", "T4", "MZ1", "PA2", "T2", "PA1", "T1", "START"],
            ["END", "MZ1", "T3", "PB", "PA1"],
          ],
          ["T4", "PA2"],
        );
      });

      it("mainline ordering: concurrent topics are ordered by the power levels they cite, not by time", async () => {
        await checkDag(
          versionId,
          [
            topic("T1", ALICE),
            pl("PA1", ALICE, { [ALICE]: 100, [BOB]: 50 }),
            topic("T2", ALICE),
            pl("PA2", ALICE, { [ALICE]: 100, [BOB]: 50 }, { events: { "m.room.power_levels": 100 } }),
            pl("PB", BOB, { [ALICE]: 100, [BOB]: 50 }),
            topic("T3", BOB),
            topic("T4", ALICE),
          ],
          [
            ["END", "T3", "PA2", "T2", "PA1", "T1", "START"],
            ["END", "T4", "PB", "PA1"],
          ],
          // T4 is newer, but it cites PB, which the resolved PA2 does not descend from.
          ["T3", "PA2"],
        );
      });
    });
  }

  it("returns the unconflicted state untouched when nothing conflicts", async () => {
    const { actual } = await stateAtEnd(
      "10",
      [topic("T1", ALICE), { id: "MZ", sender: ZARA, type: "m.room.message" }],
      [
        ["END", "T1", "START"],
        ["END", "MZ", "T1"],
      ],
      ["T1"],
    );
    assert.equal(actual.get(stateTupleKey("m.room.topic", "")), "T1");
  });
});

describe("state resolution building blocks", () => {
  it("lexicographicalTopologicalSort emits dependencies first, ties by key", () => {
    const graph = new Map<string, Set<string>>([
      ["l", new Set(["o"])],
      ["m", new Set(["n", "o"])],
      ["n", new Set(["o"])],
      ["o", new Set()],
      ["p", new Set(["o"])],
    ]);
    assert.deepEqual(lexicographicalTopologicalSort(graph, compareByCodePoint), ["o", "l", "n", "m", "p"]);
  });

  it("lexicographicalTopologicalSort leaves out nodes on a cycle instead of failing", () => {
    const graph = new Map<string, Set<string>>([
      ["a", new Set(["b"])],
      ["b", new Set(["a"])],
      ["c", new Set(["outside"])],
    ]);
    assert.deepEqual(lexicographicalTopologicalSort(graph, compareByCodePoint), ["c"]);
  });

  it("compareByCodePoint orders astral characters after the BMP, like code point order", () => {
    assert.ok(compareByCodePoint("\u{1F600}", "\uFFFF") > 0);
    assert.ok(compareByCodePoint("$a", "$b") < 0);
    assert.ok(compareByCodePoint("$a", "$ab") < 0);
  });

  it("separateStateSets treats a key missing from one set as conflicted (v2) but not in v1", () => {
    const a = new Map([[stateTupleKey("m.room.topic", ""), "$T"], [stateTupleKey("m.room.name", ""), "$N"]]);
    const b = new Map([[stateTupleKey("m.room.topic", ""), "$T"]]);
    const v2 = separateStateSets([a, b]);
    assert.deepEqual([...v2.unconflicted.values()], ["$T"]);
    assert.deepEqual([...(v2.conflicted.get(stateTupleKey("m.room.name", "")) ?? [])], ["$N"]);
    const v1 = separateStateSetsV1([a, b]);
    assert.equal(v1.conflicted.size, 0);
    assert.equal(v1.unconflicted.get(stateTupleKey("m.room.name", "")), "$N");
  });

  it("conflictedStateSubgraph keeps the events between conflicted events", async () => {
    // A <- B <- C <- D (auth edges pointing left); B and D conflicted; E hangs off C.
    const version = roomVersion("12");
    const mk = (id: string, auth: string[]): StoredEvent => ({
      eventId: id,
      pdu: { room_id: "!A", sender: ALICE, origin_server_ts: 0, type: "x", state_key: id, content: {}, prev_events: [], auth_events: auth, depth: 1, hashes: { sha256: "" }, signatures: {} },
    });
    const events = new Map([mk("$A", []), mk("$B", ["$A"]), mk("$C", ["$B"]), mk("$D", ["$C"]), mk("$E", ["$C"])].map((e) => [e.eventId, e]));
    events.set("$A", { eventId: "$A", pdu: { ...(events.get("$A") as StoredEvent).pdu, type: "m.room.create", state_key: "", room_id: undefined } });
    const subgraph = await conflictedStateSubgraph(new Set(["$B", "$D"]), new EventCache(eventSource(events)), version);
    assert.deepEqual([...subgraph].sort(), ["$B", "$C", "$D"]);
  });

  it("mainlineOrder puts events citing older power levels first", async () => {
    const version = roomVersion("10");
    const mk = (id: string, type: string, auth: string[], ts: number): StoredEvent => ({
      eventId: id,
      pdu: { room_id: "!r:example.com", sender: ALICE, origin_server_ts: ts, type, state_key: "", content: {}, prev_events: [], auth_events: auth, depth: 1, hashes: { sha256: "" }, signatures: {} },
    });
    const events = new Map(
      [
        mk("$P1", "m.room.power_levels", [], 0),
        mk("$P2", "m.room.power_levels", ["$P1"], 1),
        mk("$P3", "m.room.power_levels", ["$P2"], 2),
        mk("$X", "m.room.topic", ["$P3"], 3),
        mk("$Y", "m.room.topic", ["$P1"], 9),
        mk("$Z", "m.room.topic", [], 5),
        mk("$W", "m.room.topic", ["$P2"], 4),
      ].map((e) => [e.eventId, e]),
    );
    const order = await mainlineOrder(["$X", "$Y", "$Z", "$W"], "$P3", new EventCache(eventSource(events)), version);
    assert.deepEqual(order, ["$Z", "$Y", "$W", "$X"]);
  });
});

// ---------------------------------------------------------------------------
// v2.1 (room version 12)
// ---------------------------------------------------------------------------

/** Events for v2 vs v2.1 comparisons, built by hand with explicit auth events. */
class ExplicitRoom {
  readonly events = new Map<string, StoredEvent>();
  private clock = 0;
  constructor(readonly version: RoomVersion) {}

  get roomId(): string {
    return this.version.roomIdFromCreateEvent ? roomIdFromCreateEventId("$CREATE") : "!room:example.com";
  }

  add(id: string, type: string, stateKey: string, sender: string, content: JsonObject, authEvents: string[]): string {
    const isCreate = type === "m.room.create";
    // Pre-v12 events must cite the create event; v12 events must not.
    const auth = isCreate || this.version.roomIdFromCreateEvent ? authEvents : ["$CREATE", ...authEvents];
    const pdu: PDU = {
      sender,
      origin_server_ts: this.clock++,
      type,
      state_key: stateKey,
      content,
      prev_events: [],
      auth_events: auth,
      depth: this.clock,
      hashes: { sha256: "" },
      signatures: {},
    };
    if (!(isCreate && this.version.roomIdFromCreateEvent)) pdu.room_id = this.roomId;
    this.events.set(id, { eventId: id, pdu });
    return id;
  }

  state(ids: string[]): StateMap<string> {
    const state: StateMap<string> = new Map();
    for (const id of ids) {
      const event = this.events.get(id);
      const key = event === undefined ? undefined : stateTupleKeyOf(event.pdu);
      assert.ok(key !== undefined);
      state.set(key, id);
    }
    return state;
  }
}

describe("state resolution v2.1", () => {
  /**
   * Alice makes Bob an admin and the room public; Bob joins; Alice switches the room to
   * invite-only and leaves. A fork citing the old public join rules must not win.
   */
  function joinRulesResetScenario(versionId: string): { room: ExplicitRoom; correct: StateMap<string>; incorrect: StateMap<string> } {
    const room = new ExplicitRoom(roomVersion(versionId));
    const creatorContent: JsonObject = room.version.implicitRoomCreator ? {} : { creator: ALICE };
    room.add("$CREATE", "m.room.create", "", ALICE, creatorContent, []);
    room.add("$MA1", "m.room.member", ALICE, ALICE, join, []);
    // v12 creators must not be listed; before v12 Alice needs her 100 spelled out.
    const users: JsonObject = room.version.privilegedCreators ? { [BOB]: 100 } : { [ALICE]: 100, [BOB]: 100 };
    room.add("$POWER", "m.room.power_levels", "", ALICE, { users }, ["$MA1"]);
    room.add("$JR1", "m.room.join_rules", "", ALICE, { join_rule: "public" }, ["$MA1", "$POWER"]);
    room.add("$MB", "m.room.member", BOB, BOB, join, ["$POWER", "$JR1"]);
    room.add("$JR2", "m.room.join_rules", "", ALICE, { join_rule: "invite" }, ["$MA1", "$POWER"]);
    room.add("$MA2", "m.room.member", ALICE, ALICE, { membership: "leave" }, ["$POWER", "$MA1"]);
    const common = ["$CREATE", "$MA2", "$MB", "$POWER"];
    return { room, correct: room.state([...common, "$JR2"]), incorrect: room.state([...common, "$JR1"]) };
  }

  it("v12 starts from an empty state, so the newer join rules survive the fork", async () => {
    const { room, correct, incorrect } = joinRulesResetScenario("12");
    const resolved = await resolveStateV2([correct, incorrect], eventSource(room.events), room.version);
    assert.deepEqual(resolved, correct);
  });

  it("v2 starts from the unconflicted state, where the join rules' sender has left: the join rules reset", async () => {
    // Same scenario under a v2 room version (differences in auth details do not matter
    // here: v11 is v12 minus the v12 features, and Bob's explicit level is valid there).
    const { room, correct, incorrect } = joinRulesResetScenario("11");
    const resolved = await resolveStateV2([correct, incorrect], eventSource(room.events), room.version);
    assert.equal(resolved.get(stateTupleKey("m.room.join_rules", "")), undefined);
    assert.equal(resolved.get(stateTupleKey("m.room.member", ALICE)), "$MA2");
  });

  it("replays the conflicted state subgraph (a member event citing old power levels)", async () => {
    const room = new ExplicitRoom(roomVersion("12"));
    room.add("$CREATE", "m.room.create", "", ALICE, {}, []);
    room.add("$MA", "m.room.member", ALICE, ALICE, join, []);
    room.add("$POWER1", "m.room.power_levels", "", ALICE, { users: {} }, ["$MA"]);
    room.add("$JR", "m.room.join_rules", "", ALICE, { join_rule: "public" }, ["$MA", "$POWER1"]);
    room.add("$MB", "m.room.member", BOB, BOB, join, ["$POWER1", "$JR"]);
    room.add("$MC", "m.room.member", CHARLIE, CHARLIE, join, ["$POWER1", "$JR"]);
    room.add("$POWER2", "m.room.power_levels", "", ALICE, { users: { [BOB]: 50 } }, ["$MA", "$POWER1"]);
    room.add("$POWER3", "m.room.power_levels", "", BOB, { users: { [BOB]: 50, [CHARLIE]: 50 } }, ["$MB", "$POWER2"]);
    room.add("$ME1", "m.room.member", EVELYN, EVELYN, join, ["$POWER3", "$JR"]);
    // Evelyn's rename cites the *old* power levels directly but the new ones indirectly.
    room.add("$ME2", "m.room.member", EVELYN, EVELYN, join, ["$POWER1", "$JR", "$ME1"]);
    room.add("$MZ", "m.room.member", ZARA, ZARA, join, ["$POWER3", "$JR"]);

    const common = ["$CREATE", "$MA", "$MB", "$MC", "$JR"];
    const dodgy = room.state([...common, "$ME2", "$POWER1"]);
    const sensible = room.state([...common, "$MZ", "$POWER3"]);
    const resolved = await resolveStateV2([dodgy, sensible], eventSource(room.events), room.version);
    // POWER2 and MB lie between the conflicted POWER3 and POWER1, so they are replayed
    // and POWER3 is authorised; ME2 (POWER1 epoch) is replayed before ME1 (POWER3 epoch).
    assert.deepEqual(resolved, room.state([...common, "$ME1", "$MZ", "$POWER3"]));

    // The same events under the v2 algorithm (v12 auth rules otherwise): without the
    // subgraph POWER2 is never replayed, Bob has no power over POWER1, and the power
    // levels reset to POWER1.
    const v2Version: RoomVersion = { ...room.version, stateResolution: "v2" };
    const v2Resolved = await resolveStateV2([dodgy, sensible], eventSource(room.events), v2Version);
    assert.equal(v2Resolved.get(stateTupleKey("m.room.power_levels", "")), "$POWER1");
    assert.equal(v2Resolved.get(stateTupleKey("m.room.member", EVELYN)), "$ME2");
  });

  it("creators' infinite power orders their power events first", async () => {
    // Bob (an additional creator) and Charlie (level 100) concurrently change the join
    // rules, Charlie first. Were they equally powerful, the earlier change would be
    // applied first and Bob's would win; Bob's infinite level sorts his change first
    // instead, so Charlie's, applied after it, wins.
    const room = new ExplicitRoom(roomVersion("12"));
    room.add("$CREATE", "m.room.create", "", ALICE, { additional_creators: [BOB] }, []);
    room.add("$MA", "m.room.member", ALICE, ALICE, join, []);
    room.add("$POWER", "m.room.power_levels", "", ALICE, { users: { [CHARLIE]: 100 } }, ["$MA"]);
    room.add("$JR", "m.room.join_rules", "", ALICE, { join_rule: "public" }, ["$MA", "$POWER"]);
    room.add("$MB", "m.room.member", BOB, BOB, join, ["$POWER", "$JR"]);
    room.add("$MC", "m.room.member", CHARLIE, CHARLIE, join, ["$POWER", "$JR"]);
    const common = ["$CREATE", "$MA", "$MB", "$MC", "$POWER"];
    const jrCharlie = room.add("$JR_C", "m.room.join_rules", "", CHARLIE, { join_rule: "invite" }, ["$MC", "$POWER"]);
    const jrBob = room.add("$JR_B", "m.room.join_rules", "", BOB, { join_rule: "knock" }, ["$MB", "$POWER"]);
    const resolved = await resolveStateV2([room.state([...common, jrCharlie]), room.state([...common, jrBob])], eventSource(room.events), room.version);
    assert.equal(resolved.get(stateTupleKey("m.room.join_rules", "")), "$JR_C");
  });
});

// ---------------------------------------------------------------------------
// v1
// ---------------------------------------------------------------------------

describe("state resolution v1", () => {
  it("resolves the ban vs. power levels scenario with v1's known state reset", async () => {
    const { actual, wanted } = await stateAtEnd(
      "1",
      [
        pl("PA", ALICE, { [ALICE]: 100, [BOB]: 50 }),
        { id: "MA", sender: ALICE, type: "m.room.member", stateKey: ALICE, content: join },
        { id: "MB", sender: ALICE, type: "m.room.member", stateKey: BOB, content: { membership: "ban" } },
        pl("PB", BOB, { [ALICE]: 100, [BOB]: 50 }),
      ],
      [
        ["END", "MB", "MA", "PA", "START"],
        ["END", "PB", "PA"],
      ],
      // v1 authorises conflicted events only against the *unconflicted* state (plus keys
      // resolved in earlier passes). Bob's and Alice's memberships are both conflicted:
      // PB fails (Bob has no membership there), so PA wins; then the ban fails too (Alice
      // has no membership there), so Bob's old join survives. v2 keeps the ban.
      ["PA", "MA", "IMB"],
      resolveV1,
    );
    assert.deepEqual(actual, wanted);
  });

  it("picks the deepest authorised event for ordinary state", async () => {
    const { actual } = await stateAtEnd(
      "1",
      [topic("T1", ALICE), topic("T2", ALICE), topic("T3", BOB), { id: "M", sender: ZARA, type: "m.room.message" }],
      [
        ["END", "T2", "T1", "START"],
        // Bob (level 0) cannot set the topic; his deeper topic loses.
        ["END", "T3", "M", "T1"],
      ],
      ["T2"],
      resolveV1,
    );
    assert.equal(actual.get(stateTupleKey("m.room.topic", "")), "T2");
  });

  it("returns a single state set unchanged", async () => {
    const state = new Map([[stateTupleKey("m.room.topic", ""), "$T"]]);
    assert.deepEqual(await resolveStateV1([state], eventSource(new Map()), roomVersion("1")), state);
  });
});
