/** Filters over HTTP (spec: "Filtering"). */
import assert from "node:assert/strict";
import { test } from "node:test";
import { useTestHomeserver } from "../support/homeserver";
import { uniqueName } from "../support/http";

const { api } = useTestHomeserver();

const V3 = "/_matrix/client/v3";

test("upload and read back filters; IDs are per user", async () => {
  const alice = await api.register(uniqueName("filt"), "pw");
  const bob = await api.register(uniqueName("filt"), "pw");
  const base = `${V3}/user/${encodeURIComponent(alice.user_id)}/filter`;
  const filter = {
    room: { timeline: { limit: 10, types: ["m.room.message"], lazy_load_members: true }, include_leave: true },
    presence: { not_types: ["*"] },
    event_format: "client",
  };
  const created = await api.post<{ filter_id: string }>(base, filter, { token: alice.access_token });
  assert.equal(created.status, 200);
  const second = await api.post<{ filter_id: string }>(base, {}, { token: alice.access_token });
  assert.notEqual(second.body.filter_id, created.body.filter_id);
  const read = await api.get(`${base}/${created.body.filter_id}`, { token: alice.access_token });
  assert.deepEqual(read.body, filter);

  const foreign = await api.get(`${base}/${created.body.filter_id}`, { token: bob.access_token });
  assert.equal(foreign.status, 403);
  const unknown = await api.get(`${base}/999`, { token: alice.access_token });
  assert.equal(unknown.status, 404);
  assert.equal(unknown.body.errcode, "M_NOT_FOUND");
  const nonsense = await api.get(`${base}/abc`, { token: alice.access_token });
  assert.equal(nonsense.status, 404);
  const badShape = await api.post(base, { room: { timeline: { limit: "ten" } } }, { token: alice.access_token });
  assert.equal(badShape.status, 400);
  assert.equal(badShape.body.errcode, "M_BAD_JSON");
  const badFormat = await api.post(base, { event_format: "xml" }, { token: alice.access_token });
  assert.equal(badFormat.body.errcode, "M_BAD_JSON");
});
