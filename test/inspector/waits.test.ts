import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { FilePersistenceProvider } from "../../src/persistence/providers/file/index.js";
import { seedWaits } from "../support/wait-snapshots.js";
import { action, pageToken, raw, serve, type Served } from "./fixture.js";

const root = mkdtempSync(join(tmpdir(), "workflowforge-inspector-waits-"));
afterAll(() => rmSync(root, { recursive: true, force: true }));

// A file directory: its provider keeps events (capabilities.mailbox), so every action works on it.
async function servedFiles(allowActions: boolean): Promise<{ served: Served; token: string }> {
  const directory = mkdtempSync(join(root, "store-"));
  const served = await serve({ kind: "dir", path: directory }, new FilePersistenceProvider({ directory, durability: "none" }), allowActions, seedWaits());
  return { served, token: await pageToken(served.inspector.url) };
}

const keys = (instance: string) => ({ instance, workflowKey: "expense-v1" });

describe("the inspector on durable waits", () => {
  let served: Served;
  let token: string;
  beforeAll(async () => {
    ({ served, token } = await servedFiles(true));
  });
  afterAll(() => served.close());
  const get = (path: string) => raw(served.inspector.url, "GET", path);
  const instances = async (query: string): Promise<string[]> => (await get(`/api/instances${query}`)).json().items.map((row: any) => row.instance);

  it("filters by waiting, cancelled and overdue, and each row says what it waits for and until when", async () => {
    expect(await instances("?status=waiting")).toEqual(["cool-3", "cool-4", "expense-7"]);
    expect(await instances("?status=cancelled")).toEqual(["gone-1"]);
    expect(await instances("?status=overdue")).toEqual(["cool-3"]);
    const rows = (await get("/api/instances?status=waiting,cancelled")).json().items;
    const stored = await served.provider.tryLoad("expense-7", "expense-v1");
    expect(rows.map((row: any) => [row.instance, row.status, row.waitingFor, row.wakeAt === null, row.state])).toEqual([
      ["gone-1", "cancelled", null, true, null],
      ["cool-3", "waiting", null, false, "overdue"],
      ["cool-4", "waiting", null, false, null],
      ["expense-7", "waiting", "approved", false, null],
    ]);
    expect(rows[3].wakeAt).toBe(stored?.wakeAt);
  });

  it("shows a waiting instance's wait at its step, and the events it consumed", async () => {
    const body = (await get("/api/instance?instance=expense-7&workflowKey=expense-v1")).json();
    expect(body.timeline.map((step: any) => step.state)).toEqual(["done", "waiting", "pending"]);
    expect(body.consumedEvents).toEqual(["mail-1", "mail 2"]);
    expect(body).toMatchObject({ allowActions: true, mailbox: true, row: { waitingFor: "approved", status: "waiting" } });
  });

  it("sends an event through POST /api/signal, once per event id, with any JSON payload", async () => {
    const sent = await action(served.inspector.url, "/api/signal", { ...keys("expense-7"), event: "approved", payload: { by: "ann", at: [1, 2] }, eventId: "page-1" }, token);
    expect([sent.status, sent.json()]).toEqual([200, { instance: "expense-7", workflowKey: "expense-v1", event: "approved", eventId: "page-1", stored: true, status: "waiting", waitingFor: "approved", unreadable: null }]);
    const again = await action(served.inspector.url, "/api/signal", { ...keys("expense-7"), event: "approved", payload: "other", eventId: "page-1" }, token);
    expect(again.json()).toMatchObject({ stored: false });
    const events = await served.provider.receive?.({ foundryExecutionId: "expense-7", workflowId: "expense-v1" }, "approved");
    expect(events?.map((event) => [event.eventId, event.payload])).toEqual([["page-1", { by: "ann", at: [1, 2] }]]);
  });

  it("refuses a signal without an event name with 400", async () => {
    for (const body of [{ ...keys("expense-7") }, { ...keys("expense-7"), event: "" }, { ...keys("expense-7"), event: "approved", eventId: 7 }]) {
      expect((await action(served.inspector.url, "/api/signal", body, token)).status).toBe(400);
    }
  });

  it("answers bad input with 400 naming it, never 502 as if the store had failed: blank keys, names and ids, a payload too deep to store", async () => {
    let deep: unknown = "bottom";
    for (let level = 0; level < 150; level++) deep = [deep];
    const cases: [string, Record<string, unknown>, RegExp][] = [
      ["/api/cancel", { instance: "", workflowKey: "expense-v1" }, /instance must not be blank/],
      ["/api/cancel", { instance: "expense-7", workflowKey: "  " }, /workflowKey must not be blank/],
      ["/api/signal", { ...keys("expense-7"), event: "  " }, /event must not be blank/],
      ["/api/signal", { ...keys("expense-7"), event: "approved", eventId: " " }, /eventId must not be blank/],
      ["/api/signal", { ...keys("expense-7"), event: "approved", payload: deep }, /payload/],
    ];
    for (const [path, body, message] of cases) {
      const answer = await action(served.inspector.url, path, body, token);
      expect([path, answer.status, answer.json().error]).toEqual([path, 400, expect.stringMatching(message)]);
    }
    expect(await served.provider.receive?.({ foundryExecutionId: "expense-7", workflowId: "expense-v1" }, "approved")).not.toContainEqual(expect.objectContaining({ payload: deep }));
  });

  it("cancels through POST /api/cancel as the CLI does: 200, then 200 with nothing changed, 409 for a completed one, 404 for none", async () => {
    const first = await action(served.inspector.url, "/api/cancel", keys("cool-4"), token);
    expect([first.status, first.json()]).toEqual([200, { instance: "cool-4", workflowKey: "expense-v1", result: "cancelled", previousStatus: "waiting" }]);
    expect(await served.provider.tryLoad("cool-4", "expense-v1")).toMatchObject({ status: "cancelled" });
    expect((await action(served.inspector.url, "/api/cancel", keys("cool-4"), token)).json()).toMatchObject({ result: "finished" });
    const completed = await action(served.inspector.url, "/api/cancel", keys("done-1"), token);
    expect([completed.status, completed.json().error]).toEqual([409, expect.stringMatching(/is completed: there is nothing to cancel$/)]);
    expect((await action(served.inspector.url, "/api/cancel", keys("nobody"), token)).status).toBe(404);
    expect((await action(served.inspector.url, "/api/cancel", { ...keys("cool-3"), compensate: "yes" }, token)).status).toBe(400);
  });

  it("cancels with compensation: the instance is left compensating for a coordinator", async () => {
    const answer = await action(served.inspector.url, "/api/cancel", { ...keys("cool-3"), compensate: true }, token);
    expect(answer.json()).toMatchObject({ result: "compensating", previousStatus: "waiting" });
    expect(await served.provider.tryLoad("cool-3", "expense-v1")).toMatchObject({ status: "compensating", cancelledAt: expect.any(String) });
  });
});

describe("the inspector's send event on a store that keeps no events", () => {
  it("says so in the instance's detail (no Send event) and answers 409 naming the store", async () => {
    const directory = mkdtempSync(join(root, "store-"));
    const module = join(root, `no-mailbox-${Date.now()}.mjs`);
    // A user's provider module: the file provider behind three methods, with no mailbox.
    writeFileSync(module, `import { FilePersistenceProvider } from ${JSON.stringify(fileURLToPath(new URL("../../src/persistence/providers/file/index.ts", import.meta.url)))};
const inner = new FilePersistenceProvider({ directory: ${JSON.stringify(directory)}, durability: "none" });
export const createProvider = () => ({ capabilities: { compareAndSet: true }, save: (...a) => inner.save(...a), tryLoad: (...a) => inner.tryLoad(...a), delete: (...a) => inner.delete(...a) });
`);
    const served = await serve({ kind: "provider", module }, new FilePersistenceProvider({ directory, durability: "none" }), true, seedWaits());
    try {
      const detail = (await raw(served.inspector.url, "GET", "/api/instance?instance=expense-7&workflowKey=expense-v1")).json();
      expect(detail).toMatchObject({ mailbox: false, allowActions: true });
      const answer = await action(served.inspector.url, "/api/signal", { ...keys("expense-7"), event: "approved" }, await pageToken(served.inspector.url));
      expect([answer.status, answer.json().error]).toEqual([409, expect.stringMatching(/ keeps no events: its provider does not declare capabilities\.mailbox/)]);
    } finally {
      await served.close();
    }
  });
});

describe("the inspector's cancel and send event without --allow-actions", () => {
  it("refuses both with 403 and changes nothing", async () => {
    const { served, token } = await servedFiles(false);
    try {
      for (const [path, body] of [["/api/cancel", keys("expense-7")], ["/api/signal", { ...keys("expense-7"), event: "approved" }]] as const) {
        const answer = await action(served.inspector.url, path, body, token);
        expect([answer.status, answer.json().error]).toEqual([403, expect.stringContaining("--allow-actions")]);
      }
      expect(await served.provider.tryLoad("expense-7", "expense-v1")).toMatchObject({ status: "waiting", revision: 1 });
      expect(await served.provider.receive?.({ foundryExecutionId: "expense-7", workflowId: "expense-v1" }, "approved")).toEqual([]);
    } finally {
      await served.close();
    }
  });
});
