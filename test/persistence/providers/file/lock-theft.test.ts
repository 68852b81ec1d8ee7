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
type Hook = ((path: string) => void) | undefined;
const hooks = vi.hoisted(() => ({ beforeOpen: undefined as Hook, beforeUnlink: undefined as Hook, beforeLink: undefined as Hook }));

vi.mock("node:fs/promises", async (importOriginal) => {
  const fs = await importOriginal<typeof fsPromises>();
  return {
    ...fs,
    open: (...args: Parameters<typeof fs.open>) => (hooks.beforeOpen?.(String(args[0])), fs.open(...args)),
    unlink: (path: string) => (hooks.beforeUnlink?.(String(path)), fs.unlink(path)),
    link: (from: string, to: string) => (hooks.beforeLink?.(String(to)), fs.link(from, to)),
  };
});

const files = useFileStore("file-theft");

afterEach(() => {
  hooks.beforeOpen = undefined;
  hooks.beforeUnlink = undefined;
  hooks.beforeLink = undefined;
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

describe("FilePersistenceProvider's lock, taken by another writer at each attempt to link it and released before each look", () => {
  it("save and delete back off between attempts and give up after lockTimeoutMs, rather than retry at once for ever", async () => {
    const { store, snapshot, lock, stored, record } = await seeded();
    const { foundryExecutionId, workflowId } = snapshot;
    // The lock looks free at every look, yet every link finds it taken: nothing but the deadline ends the wait.
    let looks = 0;
    hooks.beforeLink = (path) => void (path === lock && writeFileSync(lock, `${process.pid} another-writer\n`));
    hooks.beforeOpen = (path) => void (path === lock && (looks++, unlinkSync(lock)));
    for (const call of [() => store.save(nextRevision(snapshot)), () => store.delete(foundryExecutionId, workflowId)]) {
      looks = 0;
      const error: unknown = await call().then(() => "resolved", (failure: unknown) => failure);
      expect(error).toBeInstanceOf(PersistenceError);
      expect((error as Error).message).toContain(`the lock file ${lock} was taken by another writer at each attempt to link it; gave up after 200 ms`);
      // The backoff (at least 0.5 ms doubling to 25 ms between looks) allows 14 looks in 200 ms on any
      // machine, 15 if every timer fires its millisecond early; retrying at once would look thousands of times.
      expect(looks).toBeGreaterThan(0);
      expect(looks).toBeLessThanOrEqual(20);
    }
    expect(readFileSync(record, "utf8")).toBe(stored);
  });
});
