import { rmSync } from "node:fs";
import { mkdir, readdir, readFile, writeFile } from "node:fs/promises";
import { uptime } from "node:os";
import { basename } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { describe, expect, it } from "vitest";
import { PersistenceError } from "../../../../src/persistence/errors.js";
import { FilePersistenceProvider } from "../../../../src/persistence/providers/file/index.js";
import { resolveOptions } from "../../../../src/persistence/providers/file/options.js";
import { processStartTime } from "../../../../src/persistence/providers/file/owner.js";
import { fullSnapshot, nextRevision } from "../../../../src/persistence/testing/fixtures.js";
import { deadPid, procfs } from "../../../support/processes.js";
import { plantFile, useFileStore } from "../../../support/file-store.js";
import { rejectionOf } from "../../../support/promises.js";

const files = useFileStore("file-lock");
const { provider, recordPath, lockPath, breakerPath } = files;
const secondsAgo = (seconds: number) => new Date(Date.now() - seconds * 1000);

/**
 * Saves revision 1, leaves `line` in its lock file as if written 10 s ago, and returns why the save
 * of revision 2 over that lock gave up (after 200 ms), once it checked that revision 1 and that lock stayed.
 */
async function refusedBehindOldLock(line: string): Promise<any> {
  const store = provider({ lockTimeoutMs: 200 });
  const snapshot = fullSnapshot();
  await store.save(snapshot);
  await plantFile(lockPath(snapshot), line, secondsAgo(10));
  const error = await rejectionOf<any>(store.save(nextRevision(snapshot)));
  expect((await store.tryLoad(snapshot.foundryExecutionId, snapshot.workflowId))?.revision).toBe(1);
  expect(await readFile(lockPath(snapshot), "utf8")).toBe(line);
  return error;
}

// This process's start time, which a lock it takes records on Linux (owner.test.ts checks it against /proc).
const ownStartTime = (): number => processStartTime(process.pid) as number;

describe("FilePersistenceProvider's per-instance lock file", () => {
  it("is gone after save and delete, and so are the files the writers linked to it", async () => {
    const store = provider();
    const snapshot = fullSnapshot();
    await store.save(snapshot);
    await store.save(nextRevision(snapshot));
    await store.delete(snapshot.foundryExecutionId, snapshot.workflowId);
    expect(await readdir(files.directory)).toEqual([]);
  });

  it("makes a writer wait while another holds it, then proceed", async () => {
    const store = provider();
    const snapshot = fullSnapshot();
    await store.save(snapshot);
    await writeFile(lockPath(snapshot), `${process.pid} held-by-another-provider\n`);
    let settled = false;
    const saving = store.save(nextRevision(snapshot)).finally(() => (settled = true));
    // However long this takes, it cannot settle while the lock is held.
    await sleep(50);
    expect(settled).toBe(false);
    rmSync(lockPath(snapshot));
    await saving;
    expect((await store.tryLoad(snapshot.foundryExecutionId, snapshot.workflowId))?.revision).toBe(2);
  });

  it("is never broken, however old, when it names no owner (empty, or not this provider's): the writer gives up and says to remove it", async () => {
    for (const line of ["", "not a lock\n", '{"format":"workflowforge-file/1","revision":2}\n']) {
      const error = await refusedBehindOldLock(line);
      expect(error).toBeInstanceOf(PersistenceError);
      expect(error.message).toMatch(/\.lock names no owner .*gave up after 200 ms\. Remove it if no writer is running/);
    }
  });

  it("is broken once older than staleLockMs when its owner is dead, and not before", async () => {
    const store = provider({ staleLockMs: 60_000, lockTimeoutMs: 200 });
    const snapshot = fullSnapshot();
    await store.save(snapshot);
    await plantFile(lockPath(snapshot), `${deadPid()} crashed\n`, secondsAgo(10));
    expect(await rejectionOf<any>(store.save(nextRevision(snapshot)))).toBeInstanceOf(PersistenceError);
    await provider({ staleLockMs: 1_000 }).save(nextRevision(snapshot));
    expect((await store.tryLoad(snapshot.foundryExecutionId, snapshot.workflowId))?.revision).toBe(2);
  });

  it("is broken when it is older than 5 s (the default staleLockMs) and its owner is dead", async () => {
    const store = provider();
    const snapshot = fullSnapshot();
    await store.save(snapshot);
    await plantFile(lockPath(snapshot), `${deadPid()} crashed\n`, secondsAgo(10));
    await store.save(nextRevision(snapshot));
    expect((await store.tryLoad(snapshot.foundryExecutionId, snapshot.workflowId))?.revision).toBe(2);
    expect(await readdir(files.directory)).toHaveLength(1);
  });

  it("is broken when it predates the last boot, even if its pid now belongs to a live process", async () => {
    const store = provider({ lockTimeoutMs: 200 });
    const snapshot = fullSnapshot();
    await store.save(snapshot);
    await plantFile(lockPath(snapshot), `${process.pid} before-the-reboot\n`, secondsAgo(uptime() + 60));
    await store.save(nextRevision(snapshot));
    expect((await store.tryLoad(snapshot.foundryExecutionId, snapshot.workflowId))?.revision).toBe(2);
  });

  // A restarted container's process often gets the pid its crashed predecessor had (pid 1 at
  // the top of many images): only the start time in the lock tells the two apart.
  describe.skipIf(!procfs)("whose pid is this process's (Linux: /proc tells when a process started)", () => {
    const header = (owner: object) => `{"format":"workflowforge-file/1","foundryExecutionId":"x","workflowId":"y","revision":2,"status":"running","workflowName":"w","updatedAt":"t",${JSON.stringify(owner).slice(1)}\nwf1:00`;

    it("is broken when older than 5 s and left by a process that started earlier: a delete's lock or a save's", async () => {
      const store = provider({ lockTimeoutMs: 200 });
      const snapshot = fullSnapshot();
      await store.save(snapshot);
      await plantFile(lockPath(snapshot), `${process.pid} before-the-restart ${ownStartTime() - 1}\n`, secondsAgo(10));
      await store.save(nextRevision(snapshot));
      await plantFile(lockPath(snapshot), header({ pid: process.pid, started: ownStartTime() - 1 }), secondsAgo(10));
      await store.save(nextRevision(nextRevision(snapshot)));
      expect((await store.tryLoad(snapshot.foundryExecutionId, snapshot.workflowId))?.revision).toBe(3);
      expect(await readdir(files.directory)).toHaveLength(1);
    });

    it("is not broken when its start time is this process's: a worker thread may hold it", async () => {
      for (const lock of [`${process.pid} a-worker ${ownStartTime()}\n`, header({ pid: process.pid, started: ownStartTime() })]) {
        const error = await refusedBehindOldLock(lock);
        expect(error.message).toContain(`is held by process ${process.pid}; gave up after 200 ms`);
      }
    });

    it("is not broken when its line is cut short (no newline): what a cut line names may be cut too", async () => {
      const error = await refusedBehindOldLock(`${process.pid} cut-short ${String(ownStartTime()).slice(0, -1)}`);
      expect(error.message).toContain("names no owner");
    });
  });

  it("is not broken while its owner lives, however old: the writer gives up after lockTimeoutMs", async () => {
    const error = await refusedBehindOldLock(`${process.ppid} alive\n`);
    expect(error).toBeInstanceOf(PersistenceError);
    expect(error.message).toContain(`is held by process ${process.ppid}; gave up after 200 ms`);
  });

  // The wait itself is tested above with 200 ms; the default is read from the resolved options
  // rather than waited out for real.
  it("waits 10 s by default (lockTimeoutMs) and breaks an exited owner's lock after 5 s (staleLockMs)", () => {
    expect(resolveOptions({ directory: "snapshots" })).toMatchObject({ lockTimeoutMs: 10_000, staleLockMs: 5_000 });
  });

  it("of a save is its new record, linked: the header names the writer, and the record stays alone once the lock is released", async () => {
    const store = provider();
    const snapshot = fullSnapshot();
    await store.save(snapshot);
    const [header] = (await readFile(recordPath(snapshot), "utf8")).split("\n");
    expect(JSON.parse(header as string)).toMatchObject({ revision: 1, pid: process.pid, ...(procfs ? { started: ownStartTime() } : {}) });
    expect(await readdir(files.directory)).toEqual([FilePersistenceProvider.fileNameFor(snapshot.foundryExecutionId, snapshot.workflowId)]);
  });

  it("left by a save that died before its rename (its record, naming a dead pid) is broken when older than 5 s", async () => {
    const store = provider({ lockTimeoutMs: 200 });
    const snapshot = fullSnapshot();
    await store.save(snapshot);
    const cut = `{"format":"workflowforge-file/1","foundryExecutionId":"x","workflowId":"y","revision":2,"status":"running","workflowName":"w","updatedAt":"t","pid":${deadPid()}}\nwf1:00`;
    await plantFile(lockPath(snapshot), cut, secondsAgo(10));
    await store.save(nextRevision(snapshot));
    expect((await store.tryLoad(snapshot.foundryExecutionId, snapshot.workflowId))?.revision).toBe(2);
    expect(await readdir(files.directory)).toHaveLength(1);
  });

  it("held by a save of a live process is not broken, however old", async () => {
    const error = await refusedBehindOldLock(`{"format":"workflowforge-file/1","pid":${process.ppid}}\nwf1:`);
    expect(error.message).toContain(`is held by process ${process.ppid}; gave up after 200 ms`);
  });

  it("is broken by delete, which then removes the record", async () => {
    const store = provider({ lockTimeoutMs: 200 });
    const snapshot = fullSnapshot();
    await store.save(snapshot);
    await plantFile(lockPath(snapshot), `${deadPid()} crashed\n`, secondsAgo(10));
    await store.delete(snapshot.foundryExecutionId, snapshot.workflowId);
    expect(await store.tryLoad(snapshot.foundryExecutionId, snapshot.workflowId)).toBeUndefined();
    expect(await readdir(files.directory)).toEqual([]);
  });

  it("is broken by a new provider's first call when stale, on an instance that call does not touch", async () => {
    const [killed, fresh] = [fullSnapshot(), fullSnapshot()];
    await provider().save(fresh);
    await plantFile(lockPath(killed), `${deadPid()} crashed\n`, secondsAgo(10));
    await plantFile(lockPath(fresh), `${deadPid()} just-now\n`, secondsAgo(1));
    expect(await provider().tryLoad("someone-else", "wf")).toBeUndefined();
    expect((await readdir(files.directory)).sort()).toEqual([basename(lockPath(fresh)), basename(recordPath(fresh))].sort());
  });

  it("leaves no breaker file of a breaker that died: first use and list() remove it once stale, by the rule for locks", async () => {
    const [stale, fresh, live] = [fullSnapshot(), fullSnapshot(), fullSnapshot()];
    await mkdir(files.directory, { recursive: true });
    await plantFile(breakerPath(stale), `${deadPid()} died-breaking\n`, secondsAgo(10));
    await plantFile(breakerPath(fresh), `${deadPid()} just-now\n`, secondsAgo(1));
    await plantFile(breakerPath(live), `${process.ppid} breaking\n`, secondsAgo(10));
    const left = [basename(breakerPath(fresh)), basename(breakerPath(live))].sort();
    expect(await provider().tryLoad("someone-else", "wf")).toBeUndefined();
    expect((await readdir(files.directory)).sort()).toEqual(left);
    await plantFile(breakerPath(stale), `${deadPid()} died-breaking\n`, secondsAgo(10));
    expect(await provider().list()).toEqual([]);
    expect((await readdir(files.directory)).sort()).toEqual(left);
  });

  it("is broken by one writer at a time: while another's breaker file is fresh, a stale lock is left to it", async () => {
    const store = provider({ lockTimeoutMs: 200 });
    const snapshot = fullSnapshot();
    await store.save(snapshot);
    const dead = deadPid();
    await plantFile(lockPath(snapshot), `${dead} crashed\n`, secondsAgo(10));
    await writeFile(breakerPath(snapshot), `${process.pid} breaking\n`);
    const error = await rejectionOf<any>(store.save(nextRevision(snapshot)));
    expect(error.message).toContain(`is held by process ${dead}`);
    // A breaker that died at it leaves its file; once that is stale too, the next writer clears both.
    await plantFile(breakerPath(snapshot), `${dead} died-breaking\n`, secondsAgo(10));
    await store.save(nextRevision(snapshot));
    expect((await store.tryLoad(snapshot.foundryExecutionId, snapshot.workflowId))?.revision).toBe(2);
    expect(await readdir(files.directory)).toHaveLength(1);
  });

  it("stops waiting when the signal aborts, with the signal's reason, and lets the next writer in", async () => {
    const store = provider();
    const snapshot = fullSnapshot();
    await mkdir(files.directory, { recursive: true });
    await writeFile(lockPath(snapshot), `${process.pid} held\n`);
    const reason = new Error("stop waiting");
    const controller = new AbortController();
    setTimeout(() => controller.abort(reason), 50);
    expect(await rejectionOf<any>(store.save(snapshot, controller.signal))).toBe(reason);
    rmSync(lockPath(snapshot));
    await store.save(snapshot);
    expect(await store.tryLoad(snapshot.foundryExecutionId, snapshot.workflowId)).toEqual(snapshot);
  });
});
