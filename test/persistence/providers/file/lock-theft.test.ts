import { readFileSync, unlinkSync, writeFileSync } from "node:fs";
import type * as fsPromises from "node:fs/promises";
import { afterEach, describe, expect, it, vi } from "vitest";
import { PersistenceError } from "../../../../src/persistence/errors.js";
import { fullSnapshot, nextRevision } from "../../../../src/persistence/testing/fixtures.js";
import { useFileStore } from "../../../support/file-store.js";

// A writer's lock is taken from it only if its owner is misjudged gone (the rules never judge a live
// process so); here a hook on node:fs/promises does it at a chosen call, as a breaker would after a
// stall, and another writer's lock takes its place. The test's own file work is synchronous, so
// that the hooks never see it.
const hooks = vi.hoisted(() => ({ beforeOpen: undefined as ((path: string) => void) | undefined, beforeUnlink: undefined as ((path: string) => void) | undefined }));

vi.mock("node:fs/promises", async (importOriginal) => {
  const fs = await importOriginal<typeof fsPromises>();
  return {
    ...fs,
    open: (...args: Parameters<typeof fs.open>) => (hooks.beforeOpen?.(String(args[0])), fs.open(...args)),
    unlink: (path: string) => (hooks.beforeUnlink?.(String(path)), fs.unlink(path)),
  };
});

const files = useFileStore("file-theft");

afterEach(() => {
  hooks.beforeOpen = undefined;
  hooks.beforeUnlink = undefined;
});

async function seeded() {
  const store = files.provider({ lockTimeoutMs: 200 });
  const snapshot = fullSnapshot();
  await store.save(snapshot);
  const record = files.recordPath(snapshot);
  const lock = files.lockPath(snapshot);
  // What a third writer's lock holds: its new record, whose header names a live process.
  const third = `{"format":"workflowforge-file/1","foundryExecutionId":"${snapshot.foundryExecutionId}","workflowId":"${snapshot.workflowId}","revision":2,"pid":${process.ppid}}\nthe third writer's bytes`;
  const steal = (): void => {
    unlinkSync(lock);
    writeFileSync(lock, third);
  };
  return { store, snapshot, record, lock, third, steal, stored: readFileSync(record, "utf8") };
}

describe("FilePersistenceProvider after its lock was taken from it", () => {
  it("save renames only the file it wrote: it publishes nothing, and leaves the record and the new holder's lock as they are", async () => {
    const { store, snapshot, record, lock, third, steal, stored } = await seeded();
    // Under the lock, the save opens the stored record to read its revision: the lock goes then.
    hooks.beforeOpen = (path) => {
      if (path !== record) return;
      hooks.beforeOpen = undefined;
      steal();
    };
    const error: unknown = await store.save(nextRevision(snapshot)).then(() => "resolved", (failure: unknown) => failure);
    expect(error).toBeInstanceOf(PersistenceError);
    expect((error as Error).message).toContain("was removed while this writer held it");
    expect(readFileSync(record, "utf8")).toBe(stored);
    expect(readFileSync(lock, "utf8")).toBe(third);
  });

  it("delete never unlinks a lock it does not hold", async () => {
    const { store, snapshot, record, lock, third, steal } = await seeded();
    hooks.beforeUnlink = (path) => {
      if (path !== record) return;
      hooks.beforeUnlink = undefined;
      steal();
    };
    await store.delete(snapshot.foundryExecutionId, snapshot.workflowId);
    expect(readFileSync(lock, "utf8")).toBe(third);
  });
});
