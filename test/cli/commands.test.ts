import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { deleteCommand, listCommand, pruneCommand, type CommandContext } from "../../src/cli/commands.js";
import { SnapshotCorruptedError } from "../../src/persistence/errors.js";
import type { InspectedProvider } from "../../src/cli/stores.js";
import type { FilePersistenceProvider } from "../../src/persistence/providers/file/index.js";
import type { WorkflowExecutionSnapshot } from "../../src/persistence/snapshot.js";
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

const later = (ms: number): string => new Date(Date.now() + ms).toISOString();

/**
 * The store as the command sees it, except that right after the command first reads `instance` a
 * worker claims it: revision n+1, owned by "worker-9" under a live lease.
 */
function claimedAfterRead(real: FilePersistenceProvider, instance: string): InspectedProvider {
  let claimed = false;
  return {
    capabilities: real.capabilities,
    list: (filter, signal, options) => real.list(filter, signal, options),
    tryLoad: async (id, key) => {
      const read = await real.tryLoad(id, key);
      if (id === instance && read !== undefined && !claimed) await real.save(nextRevision(read, { status: "running", owner: "worker-9", leaseExpiresAt: later(600_000) }));
      claimed ||= id === instance;
      return read;
    },
    delete: (id, key) => real.delete(id, key),
    save: (snapshot) => real.save(snapshot),
  };
}

/** The store, recording what was stored under the keys each time the command deletes, and what a worker's save of the record it read got. */
function workerSavesBeforeDelete(real: FilePersistenceProvider): InspectedProvider & { seen: { stored: WorkflowExecutionSnapshot | undefined; workerSave: unknown }[] } {
  const seen: { stored: WorkflowExecutionSnapshot | undefined; workerSave: unknown }[] = [];
  const read = new Map<string, WorkflowExecutionSnapshot>();
  return {
    seen,
    capabilities: real.capabilities,
    list: (filter, signal, options) => real.list(filter, signal, options),
    tryLoad: async (id, key) => {
      const snapshot = await real.tryLoad(id, key);
      if (snapshot !== undefined) read.set(id, snapshot);
      return snapshot;
    },
    delete: async (id, key) => {
      const stored = await real.tryLoad(id, key);
      const checkpoint = nextRevision(read.get(id)!, { nextOperationIndex: 3 });
      seen.push({ stored, workerSave: await Promise.resolve(real.save(checkpoint)).catch((error: unknown) => error) });
      await real.delete(id, key);
    },
    save: (snapshot) => real.save(snapshot),
  };
}

describe("deleteCommand", () => {
  it("deletes nothing a worker claimed after delete read it", async () => {
    const real = await seededStore();
    const error: unknown = await deleteCommand(contextFor(claimedAfterRead(real, "order-42")), { foundryExecutionId: "order-42", workflowId: "billing-v1" }, false).catch((caught: unknown) => caught);
    expect(error).toMatchObject({ name: "CliError", code: "REFUSED", message: expect.stringContaining("saved again") });
    expect(await real.tryLoad("order-42", "billing-v1")).toMatchObject({ revision: 2, owner: "worker-9" });
  });

  it("claims the record for the CLI before deleting it, so that a worker's save in between is refused", async () => {
    const real = await seededStore();
    const store = workerSavesBeforeDelete(real);
    expect(await deleteCommand(contextFor(store), { foundryExecutionId: "order-42", workflowId: "billing-v1" }, false)).toBe(0);
    const [{ stored, workerSave }] = store.seen as [(typeof store.seen)[number]];
    expect(stored).toMatchObject({ revision: 2, status: "failed", owner: "workflowforge-cli" });
    expect(Date.parse(stored!.leaseExpiresAt!) - Date.now()).toBeGreaterThan(20_000);
    expect(workerSave).toMatchObject({ code: "SNAPSHOT_CONFLICT" });
    expect(await real.tryLoad("order-42", "billing-v1")).toBeUndefined();
  });

  it("refuses, deleting nothing, when the record is no longer the revision the caller saw", async () => {
    const real = await seededStore();
    await real.save(nextRevision((await real.tryLoad("order-42", "billing-v1"))!));
    const error: unknown = await deleteCommand(contextFor(real), { foundryExecutionId: "order-42", workflowId: "billing-v1" }, false, 1).catch((caught: unknown) => caught);
    expect(error).toMatchObject({ code: "REFUSED", message: expect.stringContaining("revision 1") });
    expect(await real.tryLoad("order-42", "billing-v1")).toMatchObject({ revision: 2 });
  });
});

describe("pruneCommand", () => {
  it("deletes nothing a worker claimed after prune re-read it", async () => {
    const real = await seededStore();
    const context = contextFor(claimedAfterRead(real, "order-42"));
    expect(await pruneCommand(context, { olderThan: { text: "1d", ms: 86_400_000 } }, false)).toBe(0);
    expect(context.output()).toMatchObject({ deleted: 1, items: [{ instance: "invoice-7", outcome: "deleted" }, { instance: "order-42", outcome: "skipped-changed" }] });
    expect(await real.tryLoad("order-42", "billing-v1")).toMatchObject({ revision: 2, owner: "worker-9" });
  });

  it("claims each record for the CLI before deleting it, so that a worker's save in between is refused", async () => {
    const real = await seededStore();
    const store = workerSavesBeforeDelete(real);
    expect(await pruneCommand(contextFor(store), { olderThan: { text: "1d", ms: 86_400_000 } }, false)).toBe(0);
    expect(store.seen).toHaveLength(2);
    for (const { stored, workerSave } of store.seen) {
      expect(stored).toMatchObject({ revision: 2, owner: "workflowforge-cli" });
      expect(workerSave).toMatchObject({ code: "SNAPSHOT_CONFLICT" });
    }
  });

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

describe("records this user may not read", () => {
  // What the file provider reports for a record whose mode refuses this user: intact, for all it knows.
  const refused = (instance: string) =>
    new SnapshotCorruptedError({ foundryExecutionId: instance, workflowId: "billing-v1" }, `${instance}.snapshot cannot be read: EACCES (this process may not read it: run as the store's owner, or change the file's mode)`, Object.assign(new Error("permission denied"), { code: "EACCES" }));
  const junk = new SnapshotCorruptedError({ foundryExecutionId: "junk", workflowId: "billing-v1" }, "junk.snapshot: not a record");

  function storeReporting(unreadable: readonly SnapshotCorruptedError[]): CommandContext & { err: () => string } {
    let err = "";
    const provider: InspectedProvider = {
      capabilities: { compareAndSet: true },
      list: (_filter, _signal, options) => (unreadable.forEach((error) => options?.onUnreadable?.(error)), Promise.resolve([])),
      tryLoad: () => Promise.reject(unreadable[0] ?? new Error("no record")),
      delete: () => expect.unreachable("nothing is deleted"),
      save: () => expect.unreachable("nothing is saved"),
    };
    const instances = { mailbox: false, signal: () => expect.unreachable("no signal"), cancel: () => expect.unreachable("no cancel") };
    const store = { provider, instances, label: "the test store", close: () => Promise.resolve() };
    return { store, stdout: { write: () => undefined }, stderr: { write: (chunk: string) => (err += chunk) }, now: Date.now(), json: true, err: () => err };
  }

  it("list advises running as the store's owner, not deleting them, when every unreadable record is refused to this user", async () => {
    const context = storeReporting([refused("order-1"), refused("order-2")]);
    expect(await listCommand(context, {})).toBe(1);
    expect(context.err()).toContain("this user may not read them: run the command as the store's owner.");
    expect(context.err()).not.toContain("delete --force");
    const mixed = storeReporting([refused("order-1"), junk]);
    await listCommand(mixed, {});
    expect(mixed.err()).toContain("`workflowforge delete --force <instanceId> <workflowKey>`");
  });

  it("delete refuses such a record without pointing at --force: it may be intact", async () => {
    const error: unknown = await deleteCommand(storeReporting([refused("order-1")]), { foundryExecutionId: "order-1", workflowId: "billing-v1" }, false).catch((caught: unknown) => caught);
    expect(error).toMatchObject({ code: "REFUSED" });
    expect((error as Error).message).toMatch(/^instance order-1 \/ workflow key billing-v1 cannot be read by this user, so nothing was deleted: .*run as the store's owner/);
    expect((error as Error).message).not.toContain("--force");
  });
});
