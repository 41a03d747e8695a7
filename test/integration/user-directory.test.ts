/** User directory search (spec: "User directory"). */
import assert from "node:assert/strict";
import { test } from "node:test";
import { useTestHomeserver } from "../support/homeserver";
import { uniqueName } from "../support/http";

const { api } = useTestHomeserver();

const V3 = "/_matrix/client/v3";

test("finds users who share a room or are in public rooms, by user ID or display name", async () => {
  const tag = uniqueName("dir");
  const searcher = await api.register(`${tag}_searcher`, "pw");
  const roommate = await api.register(`${tag}_roommate`, "pw");
  const stranger = await api.register(`${tag}_stranger`, "pw");
  const publicMember = await api.register(`${tag}_public`, "pw");
  await api.put(`${V3}/profile/${encodeURIComponent(roommate.user_id)}/displayname`, { displayname: "Zebra Finch" }, { token: roommate.access_token });

  const shared = await api.post<{ room_id: string }>(`${V3}/createRoom`, { invite: [roommate.user_id] }, { token: searcher.access_token });
  await api.post(`${V3}/rooms/${encodeURIComponent(shared.body.room_id)}/join`, {}, { token: roommate.access_token });
  await api.post(`${V3}/createRoom`, { preset: "public_chat", visibility: "public" }, { token: publicMember.access_token });
  await api.post(`${V3}/createRoom`, {}, { token: stranger.access_token });

  const search = async (term: string) =>
    (await api.post<{ results: { user_id: string; display_name?: string }[]; limited: boolean }>(
      `${V3}/user_directory/search`,
      { search_term: term },
      { token: searcher.access_token },
    )).body;
  const byId = (await search(tag)).results.map((result) => result.user_id).sort();
  assert.deepEqual(byId, [searcher.user_id, roommate.user_id, publicMember.user_id].sort(), "the stranger stays hidden");
  const byName = await search("zebra");
  assert.deepEqual(byName.results, [{ user_id: roommate.user_id, display_name: "Zebra Finch" }]);
  assert.deepEqual((await search("%")).results.filter((result) => result.user_id === stranger.user_id), []);
  const limited = await api.post<{ results: unknown[]; limited: boolean }>(`${V3}/user_directory/search`, { search_term: tag, limit: 1 }, { token: searcher.access_token });
  assert.equal(limited.body.results.length, 1);
  assert.equal(limited.body.limited, true);
  const missing = await api.post(`${V3}/user_directory/search`, {}, { token: searcher.access_token });
  assert.equal(missing.body.errcode, "M_MISSING_PARAM");
});
