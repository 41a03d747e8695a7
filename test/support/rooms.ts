/** Room helpers for HTTP tests: users, rooms, sending, paginating, and checking error responses. */
import assert from "node:assert/strict";
import { TestClient, sharedSecretRegister, uniqueName, type ApiResponse } from "./http";

export const V3 = "/_matrix/client/v3";

export interface User {
  userId: string;
  token: string;
  deviceId: string;
}

export interface ClientEvent {
  event_id: string;
  room_id: string;
  sender: string;
  type: string;
  state_key?: string;
  content: Record<string, unknown>;
  origin_server_ts: number;
  redacts?: string;
  unsigned?: { age?: number; transaction_id?: string; prev_content?: Record<string, unknown>; redacted_because?: ClientEvent };
}

export interface MessagesBody {
  chunk: ClientEvent[];
  start: string;
  end?: string;
  state?: ClientEvent[];
}

/** The path of a room's endpoints. */
export const roomPath = (roomId: string): string => `${V3}/rooms/${encodeURIComponent(roomId)}`;

let txnCounter = 0;
/** A transaction ID not used before in this process. */
export const txn = (): string => `txn${++txnCounter}`;

export function assertError(response: ApiResponse<unknown>, status: number, errcode: string): void {
  const body = response.body as Record<string, unknown>;
  assert.equal(response.status, status, JSON.stringify(body));
  assert.equal(body.errcode, errcode, JSON.stringify(body));
  assert.equal(typeof body.error, "string");
}

export class RoomTestClient {
  constructor(readonly api: TestClient) {}

  async user(prefix: string): Promise<User> {
    const registered = await this.api.register(uniqueName(prefix), "password");
    return { userId: registered.user_id, token: registered.access_token, deviceId: registered.device_id };
  }

  /** A server admin through Synapse's shared-secret registration; returns its access token. */
  async admin(registrationSharedSecret: string): Promise<string> {
    const registered = await sharedSecretRegister(this.api, registrationSharedSecret, { username: uniqueName("admin"), password: "pw", admin: true });
    assert.equal(registered.status, 200);
    return registered.body.access_token;
  }

  async createRoom(owner: User, body: Record<string, unknown> = {}): Promise<string> {
    const created = await this.api.post<{ room_id: string }>(`${V3}/createRoom`, body, { token: owner.token });
    assert.equal(created.status, 200, JSON.stringify(created.body));
    return created.body.room_id;
  }

  async send(sender: User, roomId: string, content: Record<string, unknown>, txnId = txn()): Promise<string> {
    const sent = await this.api.put<{ event_id: string }>(`${roomPath(roomId)}/send/m.room.message/${txnId}`, content, { token: sender.token });
    assert.equal(sent.status, 200, JSON.stringify(sent.body));
    return sent.body.event_id;
  }

  setState(sender: User, roomId: string, type: string, stateKey: string, content: Record<string, unknown>) {
    return this.api.put<{ event_id: string }>(`${roomPath(roomId)}/state/${type}/${encodeURIComponent(stateKey)}`, content, {
      token: sender.token,
      checkSpec: false,
    });
  }

  /** POST /rooms/{roomId}/{action} (join, leave, forget, invite, kick, ban, unban); not checked against the spec. */
  membership(actor: User, roomId: string, action: string, body: Record<string, unknown> = {}) {
    return this.api.post<{ room_id?: string }>(`${roomPath(roomId)}/${action}`, body, { token: actor.token, checkSpec: false });
  }

  async join(member: User, roomId: string): Promise<void> {
    const joined = await this.api.post(`${roomPath(roomId)}/join`, {}, { token: member.token });
    assert.equal(joined.status, 200, JSON.stringify(joined.body));
  }

  messages(reader: User, roomId: string, query: string, checkSpec = true): Promise<ApiResponse<MessagesBody>> {
    return this.api.get<MessagesBody>(`${roomPath(roomId)}/messages?${query}`, { token: reader.token, checkSpec });
  }

  /** Every event of the room visible to `reader`, oldest first, paginating forwards `pageSize` at a time. */
  async fullHistory(reader: User, roomId: string, pageSize = 50): Promise<ClientEvent[]> {
    const events: ClientEvent[] = [];
    let from: string | undefined;
    for (;;) {
      const page = await this.messages(reader, roomId, `dir=f&limit=${pageSize}${from ? `&from=${from}` : ""}`);
      assert.equal(page.status, 200);
      events.push(...page.body.chunk);
      if (page.body.end === undefined || page.body.chunk.length === 0) return events;
      from = page.body.end;
    }
  }

  /** Every event visible to `reader`, newest first, paginating backwards `pageSize` at a time until `end` is absent. */
  async fullHistoryBackwards(reader: User, roomId: string, pageSize: number): Promise<ClientEvent[]> {
    const events: ClientEvent[] = [];
    let from: string | undefined;
    for (;;) {
      const page = await this.messages(reader, roomId, `dir=b&limit=${pageSize}${from ? `&from=${from}` : ""}`);
      assert.equal(page.status, 200);
      events.push(...page.body.chunk);
      if (page.body.end === undefined) return events;
      from = page.body.end;
    }
  }
}
