/** Push rules API (spec: "Push Rules: API"), and the m.push_rules account data clients read from /sync. */
import assert from "node:assert/strict";
import { test } from "node:test";
import { useTestHomeserver } from "../support/homeserver";
import { uniqueName } from "../support/http";

const { api } = useTestHomeserver();

const V3 = "/_matrix/client/v3";
type Rule = { rule_id: string; enabled: boolean; actions: unknown[]; default: boolean };
type Ruleset = Record<string, Rule[]>;

test("default rules, custom rules with positions, enabled and actions, and sync", async () => {
  const alice = await api.register(uniqueName("push"), "pw");
  const token = alice.access_token;
  const all = await api.get<{ global: Ruleset }>(`${V3}/pushrules/`, { token });
  assert.equal(all.status, 200);
  assert.equal(all.body.global.override?.[0]?.rule_id, ".m.rule.master");
  assert.ok(all.body.global.underride?.some((rule) => rule.rule_id === ".m.rule.message"));
  const { next_batch: since } = (await api.get<{ next_batch: string }>(`${V3}/sync`, { token })).body;

  const base = `${V3}/pushrules/global`;
  assert.equal((await api.put(`${base}/room/${encodeURIComponent("!a:localhost")}`, { actions: ["notify"] }, { token })).status, 200);
  assert.equal((await api.put(`${base}/room/${encodeURIComponent("!b:localhost")}?before=${encodeURIComponent("!a:localhost")}`, { actions: [] }, { token })).status, 200);
  const rooms = (await api.get<Ruleset>(`${base}/`, { token })).body.room?.map((rule) => rule.rule_id);
  assert.deepEqual(rooms, ["!b:localhost", "!a:localhost"]);
  const content = await api.put(`${base}/content/cake`, { actions: ["notify"], pattern: "cake*lie" }, { token });
  assert.equal(content.status, 200);
  const noPattern = await api.put(`${base}/content/nopattern`, { actions: ["notify"] }, { token });
  assert.equal(noPattern.status, 400);
  const badAnchor = await api.put(`${base}/room/x?after=nope`, { actions: [] }, { token });
  assert.equal(badAnchor.status, 400);
  const reserved = await api.put(`${base}/override/.m.rule.mine`, { actions: [] }, { token });
  assert.equal(reserved.status, 400);

  assert.equal((await api.put(`${base}/override/.m.rule.master/enabled`, { enabled: true }, { token })).status, 200);
  assert.deepEqual((await api.get(`${base}/override/.m.rule.master/enabled`, { token })).body, { enabled: true });
  assert.equal((await api.put(`${base}/underride/.m.rule.message/actions`, { actions: [] }, { token })).status, 200);
  assert.deepEqual((await api.get(`${base}/underride/.m.rule.message/actions`, { token })).body, { actions: [] });

  assert.equal((await api.delete(`${base}/content/cake`, undefined, { token })).status, 200);
  const gone = await api.get(`${base}/content/cake`, { token });
  assert.equal(gone.status, 404);
  assert.equal(gone.body.errcode, "M_NOT_FOUND");
  assert.equal((await api.delete(`${base}/override/.m.rule.master`, undefined, { token })).status, 400);
  assert.equal((await api.get(`${base}/sideways/x`, { token })).status, 400);

  const synced = await api.get<{ account_data: { events: { type: string; content: { global: Ruleset } }[] } }>(
    `${V3}/sync?since=${since}`,
    { token },
  );
  const pushRules = synced.body.account_data.events.filter((event) => event.type === "m.push_rules");
  assert.equal(pushRules.length, 1, "the latest rules arrive once");
  assert.equal(pushRules[0]!.content.global.override?.find((rule) => rule.rule_id === ".m.rule.master")?.enabled, true);
});
