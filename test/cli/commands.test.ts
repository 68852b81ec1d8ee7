import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { pruneCommand, type CommandContext } from "../../src/cli/commands.js";
import type { InspectedProvider } from "../../src/cli/stores.js";
import type { FilePersistenceProvider } from "../../src/persistence/providers/file/index.js";
import { nextRevision } from "../../src/persistence/testing/fixtures.js";
import { seedSnapshots } from "./run-cli.js";
import { seededFileStore } from "../support/file-store.js";

const root = mkdtempSync(join(tmpdir(), "workflowforge-cli-commands-"));
afterAll(() => rmSync(root, { recursive: true, force: true }));

async function seededStore(): Promise<FilePersistenceProvider> {
  return (await seededFileStore(root, seedSnapshots())).provider;
}

function contextFor(provider: InspectedProvider): CommandContext & { output: () => unknown } {
  let text = "";
  const instances = { mailbox: false, signal: () => expect.unreachable("no signal"), cancel: () => expect.unreachable("no cancel") };
  const store = { provider, instances, label: "the test store", close: () => Promise.resolve() };
  const stderr = { write: (chunk: string) => expect.unreachable(`nothing on stderr, got ${chunk}`) };
  return { store, stdout: { write: (chunk: string) => (text += chunk) }, stderr, now: Date.now(), json: true, output: () => JSON.parse(text) };
}

describe("pruneCommand", () => {
  it("skips a snapshot that was saved again after it was listed", async () => {
    const real = await seededStore();
    // Another process resumes order-42 between prune's list and its delete.
    const racing: InspectedProvider = {
      list: async (filter, signal, options) => {
        const listed = await real.list(filter, signal, options);
        const order = listed.find((s) => s.foundryExecutionId === "order-42");
        if (order !== undefined) await real.save(nextRevision(order, { status: "running" }));
        return listed;
      },
      tryLoad: (instance, key) => real.tryLoad(instance, key),
      delete: (instance, key) => real.delete(instance, key),
      save: (snapshot) => real.save(snapshot),
    };
    const context = contextFor(racing);
    expect(await pruneCommand(context, { olderThan: { text: "1d", ms: 86_400_000 } }, false)).toBe(0);
    expect(context.output()).toMatchObject({ matched: 2, deleted: 1, skipped: 1, items: [{ instance: "invoice-7", outcome: "deleted" }, { instance: "order-42", outcome: "skipped-changed" }] });
    expect(await real.tryLoad("order-42", "billing-v1")).toMatchObject({ revision: 2, status: "running" });
  });

  it("reports how many it deleted when the store fails part way", async () => {
    const real = await seededStore();
    let deletes = 0;
    const failing: InspectedProvider = {
      list: (filter, signal, options) => real.list(filter, signal, options),
      tryLoad: (instance, key) => real.tryLoad(instance, key),
      delete: async (instance, key) => {
        if (++deletes === 2) throw new Error("connection lost");
        await real.delete(instance, key);
      },
      save: (snapshot) => real.save(snapshot),
    };
    const error: unknown = await pruneCommand(contextFor(failing), { olderThan: { text: "1h", ms: 3_600_000 } }, false).catch((caught: unknown) => caught);
    expect(error).toMatchObject({ name: "CliError", code: "STORE", message: "prune stopped after deleting 1 of 3 matching snapshots from the test store: connection lost", exitCode: 1 });
  });
});
