import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { afterAll, describe, expect, it, vi } from "vitest";
import { openStore } from "../../src/cli/stores.js";
import { FilePersistenceProvider } from "../../src/persistence/providers/file/index.js";
import { SqlitePersistenceProvider } from "../../src/persistence/providers/sqlite.js";
import { startInspector } from "../../src/inspector/server.js";
import { action, pageToken, raw, sqliteFiles } from "./fixture.js";
import { inspectorSnapshots } from "./seed.js";

const freshSqlite = sqliteFiles();
const root = mkdtempSync(join(tmpdir(), "workflowforge-inspector-slow-"));
afterAll(() => rmSync(root, { recursive: true, force: true }));
const fileProvider = JSON.stringify(fileURLToPath(new URL("../../src/persistence/providers/file/index.ts", import.meta.url)));

/** A --provider module over a seeded directory whose every call answers after `ms`. */
async function slowModule(ms: number): Promise<string> {
  const directory = join(mkdtempSync(join(root, "store-")), "records");
  mkdirSync(directory);
  const files = new FilePersistenceProvider({ directory, durability: "none" });
  for (const snapshot of inspectorSnapshots()) await files.save(snapshot);
  const module = join(directory, "..", "slow-store.mjs");
  writeFileSync(
    module,
    `import { FilePersistenceProvider } from ${fileProvider};
const inner = new FilePersistenceProvider({ directory: ${JSON.stringify(directory)}, durability: "none" });
const slowly = (call) => (...args) => new Promise((done) => setTimeout(done, ${ms})).then(() => inner[call](...args));
export const createProvider = () => ({ capabilities: { compareAndSet: true }, tryLoad: slowly("tryLoad"), save: slowly("save"), delete: slowly("delete") });
`,
  );
  // Loaded once here: the store's opening, bounded by the same --timeout, then finds it loaded.
  await import(pathToFileURL(module).href);
  return module;
}

describe("the inspector on a store that is slow or locked", () => {
  it("gives a request --timeout in all, however many store calls it makes: 502 once that has passed since it began", async () => {
    // Each call is well within --timeout; a delete makes three (read, claim, delete), a retry two.
    // (On a busy machine the first call alone may outlast it: then that call is named.)
    const store = await openStore({ kind: "provider", module: await slowModule(600) }, { text: "1s", ms: 1_000 });
    const inspector = await startInspector(store, { port: 0, host: "127.0.0.1", allowActions: true, maxAttempts: 3 });
    try {
      const token = await pageToken(inspector.url);
      for (const [path, instance] of [["/api/delete", "failed-1"], ["/api/retry", "dead-1"]] as const) {
        const answer = await action(inspector.url, path, { instance, workflowKey: "orders-v1" }, token);
        expect([path, answer.status, answer.json().error]).toEqual([path, 502, expect.stringMatching(/: the request did not finish within 1s \(its \w+ was still waiting\); check that the store behind the provider answers, or raise --timeout$/)]);
      }
    } finally {
      await inspector.close();
      await store.close();
    }
  });

  it("answers other requests while an action waits for a SQLite write lock, and the action once the lock is released", async () => {
    const sqlite = await freshSqlite();
    for (const snapshot of inspectorSnapshots()) await sqlite.provider.save(snapshot);
    const store = await openStore(sqlite.spec, { text: "5s", ms: 5_000 });
    const inspector = await startInspector(store, { port: 0, host: "127.0.0.1", allowActions: true, maxAttempts: 3 });
    const save = vi.spyOn(SqlitePersistenceProvider.prototype, "save");
    try {
      const token = await pageToken(inspector.url);
      // Another connection in the middle of a write transaction: the delete's claim (a save) waits for it.
      sqlite.database.exec("BEGIN IMMEDIATE");
      const deleting = action(inspector.url, "/api/delete", { instance: "completed-1", workflowKey: "orders-v1" }, token);
      try {
        await vi.waitFor(() => expect(save.mock.settledResults[0]?.type).toBe("rejected"));
        const page = raw(inspector.url, "GET", "/");
        expect(await Promise.race([page.then(() => "the page"), deleting.then(() => "the delete")])).toBe("the page");
        expect((await page).status).toBe(200);
      } finally {
        sqlite.database.exec("ROLLBACK");
      }
      const deleted = await deleting;
      expect([deleted.status, deleted.json()]).toEqual([200, { deleted: 1, instance: "completed-1", workflowKey: "orders-v1" }]);
      expect(await sqlite.provider.tryLoad("completed-1", "orders-v1")).toBeUndefined();
    } finally {
      save.mockRestore();
      await inspector.close();
      await store.close();
    }
  });
});
