// Tests of the generated SDK against a running webhookd. WEBHOOKD_URL is the server;
// WEBHOOKD_KHEOPS_TOKEN a user's token, WEBHOOKD_APP_TOKEN an application's (client_id app,
// facilities P-1 and P-2), WEBHOOKD_PUBLISH_TOKEN a publisher's (scope webhooks:publish).
// In CI, server.TestTypeScriptSDK starts the server, mints the tokens and runs these tests.
import assert from "node:assert/strict";
import { test } from "node:test";

import { createClient, createConfig } from "../src/client/index.js";
import {
  createAlbum,
  createFacilityWebhook,
  createWebhook,
  listFacilityWebhooks,
  listWebhookLogs,
  listWebhooks,
  publishFacilityEvent,
  updateFacilityWebhook,
  updateWebhook,
  type KheopsError,
  type NestValidationError,
} from "../src/index.js";

function env(name: string): string {
  const v = process.env[name];
  if (!v) throw new Error(`${name} is not set`);
  return v;
}

const baseUrl = env("WEBHOOKD_URL");
const clientWith = (token: string) => createClient(createConfig({ baseUrl, auth: () => token }));
const kheops = clientWith(env("WEBHOOKD_KHEOPS_TOKEN"));
const app = clientWith(env("WEBHOOKD_APP_TOKEN"));
const publisher = clientWith(env("WEBHOOKD_PUBLISH_TOKEN"));

test("album webhooks: create with two events, list with X-Total-Count, PATCH add_event/remove_event, PATCH without body", async () => {
  const album = await createAlbum({ client: kheops, body: { name: "SDK album" } });
  assert.equal(album.response.status, 201);
  const album_id = album.data!.album_id;

  const created = await createWebhook({
    client: kheops,
    path: { album_id },
    body: { url: "https://receiver.example.org/sdk", name: "sdk hook", event: ["new_series", "new_user"] },
  });
  assert.equal(created.response.status, 201, JSON.stringify(created.error));
  assert.deepEqual(created.data!.events, ["new_series", "new_user"]);
  const webhook_id = created.data!.id;

  await createWebhook({ client: kheops, path: { album_id }, body: { url: "https://receiver.example.org/other", name: "other" } });
  const list = await listWebhooks({ client: kheops, path: { album_id }, query: { limit: 1, offset: 0 } });
  assert.equal(list.response.status, 200);
  assert.equal(list.response.headers.get("X-Total-Count"), "2");
  assert.equal(list.data!.length, 1);

  const patched = await updateWebhook({
    client: kheops,
    path: { album_id, webhook_id },
    body: { add_event: ["remove_series"], remove_event: ["new_user"] },
  });
  assert.equal(patched.response.status, 200, JSON.stringify(patched.error));
  assert.deepEqual(patched.data!.events, ["new_series", "remove_series"]);

  // No body at all: a no-op.
  const unchanged = await updateWebhook({ client: kheops, path: { album_id, webhook_id } });
  assert.equal(unchanged.response.status, 200, JSON.stringify(unchanged.error));
  assert.deepEqual(unchanged.data!.events, ["new_series", "remove_series"]);
});

test("album webhooks: a 400 is a typed KheopsError", async () => {
  const album = await createAlbum({ client: kheops, body: { name: "SDK errors" } });
  const res = await createWebhook({
    client: kheops,
    path: { album_id: album.data!.album_id },
    body: { url: "ftp://receiver.example.org", name: "bad" },
  });
  assert.equal(res.response.status, 400);
  const error: KheopsError | undefined = res.error;
  assert.equal(error?.message, "Bad Request");
  assert.match(error?.detail ?? "", /url/);
});

test("facility webhooks: create, PATCH, list, logs, and a typed 400", async () => {
  const created = await createFacilityWebhook({
    client: app,
    body: { url: "https://receiver.example.org/facility", events: ["shift.created", "shift.cancelled"] },
  });
  assert.equal(created.response.status, 201, JSON.stringify(created.error));
  const hook = created.data!.data;
  assert.deepEqual(hook.facilities, ["P-1", "P-2"]);
  assert.equal(hook.secrets.length, 1);

  const patched = await updateFacilityWebhook({
    client: app,
    path: { webhookId: hook.id },
    body: { events: ["all"], facilities: ["P-1"], secrets: null },
  });
  assert.equal(patched.response.status, 201, JSON.stringify(patched.error));
  assert.deepEqual(patched.data!.data.events, ["all"]);
  assert.deepEqual(patched.data!.data.facilities, ["P-1"]);
  assert.deepEqual(patched.data!.data.secrets, hook.secrets);

  const noBody = await updateFacilityWebhook({ client: app, path: { webhookId: hook.id } });
  assert.equal(noBody.response.status, 201, JSON.stringify(noBody.error));
  assert.deepEqual(noBody.data!.data.events, ["all"]);

  const list = await listFacilityWebhooks({ client: app });
  assert.equal(list.response.status, 200);
  assert.deepEqual(list.data!.data.map((w) => w.id), [hook.id]);

  const published = await publishFacilityEvent({
    client: publisher,
    body: { eventType: "shift.created", facilityId: "P-1", data: { shiftId: "S-1" }, idempotencyKey: "sdk-S-1" },
  });
  assert.equal(published.response.status, 202, JSON.stringify(published.error));
  assert.equal(published.data!.deliveries, 1);

  const logs = await listWebhookLogs({ client: app, query: { "facilitiesIds[]": ["P-1"], eventType: "shift.created", limit: 10 } });
  assert.equal(logs.response.status, 200, JSON.stringify(logs.error));
  assert.equal(logs.data!.data.length, 1);
  assert.equal(logs.data!.data[0].eventType, "shift.created");
  assert.equal(logs.data!.data[0].facilityId, "P-1");

  const bad = await createFacilityWebhook({ client: app, body: { url: "http://receiver.example.org", events: [] as never } });
  assert.equal(bad.response.status, 400);
  const error: NestValidationError | undefined = bad.error as NestValidationError | undefined;
  assert.equal(error?.statusCode, 400);
  assert.deepEqual(error?.message, ["should be a secure URL with HTTPS", "events must contain at least 1 elements"]);
});
