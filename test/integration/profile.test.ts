/** Profiles over HTTP (spec: "Profiles"), including custom fields and their limits. */
import assert from "node:assert/strict";
import { test } from "node:test";
import { useTestHomeserver } from "../support/homeserver";
import { uniqueName } from "../support/http";

const { api } = useTestHomeserver();

const V3 = "/_matrix/client/v3";

test("a new user's display name is the localpart; fields can be set, read and deleted", async () => {
  const name = uniqueName("prof");
  const alice = await api.register(name, "pw");
  const base = `${V3}/profile/${encodeURIComponent(alice.user_id)}`;
  const token = alice.access_token;
  assert.deepEqual((await api.get(base)).body, { displayname: name });

  // Clients often set both fields at once; neither update may be lost.
  const [displayname, avatar] = await Promise.all([
    api.put(`${base}/displayname`, { displayname: "Alice" }, { token }),
    api.put(`${base}/avatar_url`, { avatar_url: "mxc://localhost/abc" }, { token }),
  ]);
  assert.equal(displayname.status, 200);
  assert.equal(avatar.status, 200);
  assert.equal((await api.put(`${base}/m.tz`, { "m.tz": "Europe/Berlin" }, { token })).status, 200);
  assert.equal((await api.put(`${base}/org.example.pronouns`, { "org.example.pronouns": ["she", "her"] }, { token })).status, 200);
  assert.deepEqual((await api.get(base)).body, {
    displayname: "Alice",
    avatar_url: "mxc://localhost/abc",
    "m.tz": "Europe/Berlin",
    "org.example.pronouns": ["she", "her"],
  });
  assert.deepEqual((await api.get(`${base}/displayname`)).body, { displayname: "Alice" });
  assert.equal((await api.delete(`${base}/org.example.pronouns`, undefined, { token })).status, 200);
  const gone = await api.get(`${base}/org.example.pronouns`);
  assert.equal(gone.status, 404);
  assert.equal(gone.body.errcode, "M_NOT_FOUND");
});

test("bad profile requests get the spec's errors", async () => {
  const alice = await api.register(uniqueName("prof"), "pw");
  const bob = await api.register(uniqueName("prof"), "pw");
  const base = `${V3}/profile/${encodeURIComponent(alice.user_id)}`;
  const token = alice.access_token;

  const foreign = await api.put(`${base}/displayname`, { displayname: "Mallory" }, { token: bob.access_token });
  assert.equal(foreign.status, 403);
  assert.equal(foreign.body.errcode, "M_FORBIDDEN");
  const unauthenticated = await api.put(`${base}/displayname`, { displayname: "x" });
  assert.equal(unauthenticated.body.errcode, "M_MISSING_TOKEN");
  const badKey = await api.put(`${base}/Not-A-Key`, { "Not-A-Key": 1 }, { token });
  assert.equal(badKey.status, 400);
  assert.equal(badKey.body.errcode, "M_INVALID_PARAM");
  const missing = await api.put(`${base}/displayname`, { name: "x" }, { token });
  assert.equal(missing.body.errcode, "M_MISSING_PARAM");
  const wrongType = await api.put(`${base}/displayname`, { displayname: 7 }, { token });
  assert.equal(wrongType.body.errcode, "M_BAD_JSON");
  const notMxc = await api.put(`${base}/avatar_url`, { avatar_url: "https://example.org/a.png" }, { token });
  assert.equal(notMxc.status, 400);
  const longKey = `org.${"a".repeat(300)}`;
  const tooLongKey = await api.put(`${base}/${longKey}`, { [longKey]: 1 }, { token });
  assert.equal(tooLongKey.body.errcode, "M_KEY_TOO_LARGE");
  const tooBig = await api.put(`${base}/org.example.blob`, { "org.example.blob": "x".repeat(70 * 1024) }, { token });
  assert.equal(tooBig.status, 400);
  assert.equal(tooBig.body.errcode, "M_PROFILE_TOO_LARGE");
  const nobody = await api.get(`${V3}/profile/${encodeURIComponent("@nobody:localhost")}`);
  assert.equal(nobody.status, 404);
  const notAUser = await api.get(`${V3}/profile/not-a-user`);
  assert.equal(notAUser.status, 400);
});

test("the profile stays under 64 KiB in total", async () => {
  const alice = await api.register(uniqueName("prof"), "pw");
  const base = `${V3}/profile/${encodeURIComponent(alice.user_id)}`;
  const token = alice.access_token;
  for (const key of ["org.example.a", "org.example.b"]) {
    assert.equal((await api.put(`${base}/${key}`, { [key]: "y".repeat(30 * 1024) }, { token })).status, 200);
  }
  const over = await api.put(`${base}/org.example.c`, { "org.example.c": "z".repeat(10 * 1024) }, { token });
  assert.equal(over.status, 400);
  assert.equal(over.body.errcode, "M_PROFILE_TOO_LARGE");
});
