import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, describe, expect, it } from "vitest";
import type { StoreSpec } from "../../src/cli/args.js";
import { FilePersistenceProvider } from "../../src/persistence/providers/file/index.js";
import { action, pageToken, raw, serve } from "./fixture.js";

const root = mkdtempSync(join(tmpdir(), "workflowforge-inspector-stores-"));
afterAll(() => rmSync(root, { recursive: true, force: true }));
const fileProvider = JSON.stringify(fileURLToPath(new URL("../../src/persistence/providers/file/index.ts", import.meta.url)));

function directory(): string {
  const path = mkdtempSync(join(root, "store-"));
  mkdirSync(join(path, "records"));
  return join(path, "records");
}

// The same store, reached as --dir and as --provider: the inspector goes through the CLI's store
// opening for both, and its retry writes through each one's bounded provider.
const stores: [string, () => { spec: StoreSpec; directory: string }][] = [
  ["a directory (--dir)", () => {
    const path = directory();
    return { spec: { kind: "dir", path }, directory: path };
  }],
  ["a provider module (--provider)", () => {
    const path = directory();
    const module = join(path, "..", "store.mjs");
    writeFileSync(module, `import { FilePersistenceProvider } from ${fileProvider};
export function createProvider() { return new FilePersistenceProvider({ directory: ${JSON.stringify(path)}, durability: "none" }); }
`);
    return { spec: { kind: "provider", module }, directory: path };
  }],
];

describe.each(stores)("the inspector on %s", (_name, fresh) => {
  it("lists the instances and retries a dead letter in the store", async () => {
    const { spec, directory: path } = fresh();
    const provider = new FilePersistenceProvider({ directory: path, durability: "none" });
    const served = await serve(spec, provider, true);
    try {
      const { url } = served.inspector;
      expect((await raw(url, "GET", "/api/instances?status=dead-letter")).json().total).toBe(3);
      const retried = await action(url, "/api/retry", { instance: "dead-1", workflowKey: "orders-v1" }, await pageToken(url));
      expect(retried.status).toBe(200);
      expect(await provider.tryLoad("dead-1", "orders-v1")).toMatchObject({ attempts: 0, revision: 2 });
    } finally {
      await served.close();
    }
  });
});
