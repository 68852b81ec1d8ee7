import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { fullSnapshot } from "../../src/persistence/testing/fixtures.js";
import type { WorkflowExecutionSnapshot } from "../../src/persistence/snapshot.js";
import { action, pageToken, raw, serve, sqliteFiles, type Served } from "./fixture.js";

const freshSqlite = sqliteFiles();

// Keys a store takes like any others: a pair of 14,105 characters, and 2,004 characters whose
// percent-encoded UTF-8 (18,000 bytes) is over Node's default limit for a request's headers.
const pair = { foundryExecutionId: `pair-${"a".repeat(10_000)}`, workflowId: "b".repeat(4100) };
const cjk = { foundryExecutionId: `cjk-${"注".repeat(2000)}`, workflowId: "W" };

const at = (minute: number): string => new Date(Date.UTC(2026, 0, 1, 0, minute)).toISOString();
// Newest first: the long keys lead the list, so that a page of one row ends at each of them.
const seed: WorkflowExecutionSnapshot[] = [
  fullSnapshot({ ...pair, updatedAt: at(9), attempts: 3, owner: "worker-1", leaseExpiresAt: at(0) }),
  fullSnapshot({ ...cjk, updatedAt: at(8), attempts: 3, owner: "worker-1", leaseExpiresAt: at(0) }),
  fullSnapshot({ foundryExecutionId: "short-1", workflowId: "W", updatedAt: at(7) }),
];

const linkTo = (keys: { foundryExecutionId: string; workflowId: string }): string => `/api/instance?${new URLSearchParams({ keys: JSON.stringify([keys.foundryExecutionId, keys.workflowId]) }).toString()}`;

describe("the inspector on records with long keys", () => {
  let served: Served;
  beforeAll(async () => {
    const sqlite = await freshSqlite();
    served = await serve(sqlite.spec, sqlite.provider, true, seed);
  });
  afterAll(() => served.close());
  const get = (path: string) => raw(served.inspector.url, "GET", path);

  it("shows each by the page's own link", async () => {
    for (const keys of [pair, cjk]) {
      const shown = await get(linkTo(keys));
      expect([shown.status, shown.json().row?.instance === keys.foundryExecutionId]).toEqual([200, true]);
    }
  });

  it("pages past each: the cursor of a page that ends at one is taken", async () => {
    const shown: string[] = [];
    for (let query = "?limit=1"; ; ) {
      const page = await get(`/api/instances${query}`);
      expect(page.status).toBe(200);
      const body = page.json();
      shown.push(...body.items.map((row: { instance: string }) => row.instance));
      if (body.next === null) break;
      query = `?limit=1&${new URLSearchParams({ after: body.next }).toString()}`;
    }
    expect(shown).toEqual([pair.foundryExecutionId, cjk.foundryExecutionId, "short-1"]);
  });

  it("retries and deletes each with --allow-actions", async () => {
    const token = await pageToken(served.inspector.url);
    for (const keys of [pair, cjk]) {
      const body = { instance: keys.foundryExecutionId, workflowKey: keys.workflowId };
      expect((await action(served.inspector.url, "/api/retry", body, token)).status).toBe(200);
      expect((await action(served.inspector.url, "/api/delete", body, token)).status).toBe(200);
      expect(await served.provider.tryLoad(keys.foundryExecutionId, keys.workflowId)).toBeUndefined();
    }
  });
});
