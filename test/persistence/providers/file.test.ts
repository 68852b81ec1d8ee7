import { spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { mkdir, readdir, readFile, readlink, stat, truncate, utimes, writeFile } from "node:fs/promises";
import { tmpdir, uptime } from "node:os";
import { basename, join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { PersistenceError, SnapshotConflictError, SnapshotCorruptedError } from "../../../src/persistence/errors.js";
import { FilePersistenceProvider } from "../../../src/persistence/providers/file.js";
import { processStartTime } from "../../../src/persistence/providers/file-owner.js";
import { fullSnapshot, nextRevision } from "../../../src/persistence/testing/index.js";
import type { WorkflowExecutionSnapshot } from "../../../src/persistence/snapshot.js";
import { describeUnreadableListing } from "./unreadable-cases.js";
import { taggedJsonCodec } from "../../support/custom-codec.js";
import { deadPid, procfs } from "../../support/processes.js";

let root = "";
let directory = "";
const provider = (options: Partial<ConstructorParameters<typeof FilePersistenceProvider>[0]> = {}) =>
  new FilePersistenceProvider({ directory, durability: "none", ...options });
const recordPath = (snapshot: Pick<WorkflowExecutionSnapshot, "foundryExecutionId" | "workflowId">) =>
  join(directory, FilePersistenceProvider.fileNameFor(snapshot.foundryExecutionId, snapshot.workflowId));
const lockPath = (snapshot: WorkflowExecutionSnapshot) => recordPath(snapshot).replace(/\.snapshot$/, ".lock");
const breakerPath = (snapshot: WorkflowExecutionSnapshot) => recordPath(snapshot).replace(/\.snapshot$/, ".break");
const secondsAgo = (seconds: number) => new Date(Date.now() - seconds * 1000);

/** Writes `contents` at `path` as if its writer had last touched it at `modified`. */
async function plantFile(path: string, contents: string, modified: Date): Promise<void> {
  await writeFile(path, contents);
  await utimes(path, modified, modified);
}
const minutesAgo = (minutes: number) => new Date(Date.now() - minutes * 60_000);

async function rejection(promise: Promise<unknown>): Promise<any> {
  return promise.then(
    () => expect.unreachable("expected a rejection"),
    (error: unknown) => error,
  );
}

/**
 * Saves revision 1, leaves `line` in its lock file as if written 10 s ago, and returns why the save
 * of revision 2 over that lock gave up (after 200 ms), once it checked that revision 1 stayed.
 */
async function refusedBehindOldLock(line: string): Promise<any> {
  const store = provider({ lockTimeoutMs: 200 });
  const snapshot = fullSnapshot();
  await store.save(snapshot);
  await plantFile(lockPath(snapshot), line, secondsAgo(10));
  const error = await rejection(store.save(nextRevision(snapshot)));
  expect((await store.tryLoad(snapshot.foundryExecutionId, snapshot.workflowId))?.revision).toBe(1);
  return error;
}

// This process's start time, which a lock it takes records on Linux (file-owner.test.ts checks it against /proc).
const ownStartTime = (): number => processStartTime(process.pid) as number;


beforeEach(() => {
  root = mkdtempSync(join(tmpdir(), "workflowforge-file-"));
  directory = join(root, "store");
});

afterEach(() => rmSync(root, { recursive: true, force: true }));

describe("FilePersistenceProvider", () => {
  it("validates its options with a TypeError naming the option", () => {
    const make = (options: unknown) => () => new FilePersistenceProvider(options as never);
    expect(make(undefined)).toThrow(TypeError);
    expect(make({})).toThrow(/options\.directory/);
    expect(make({ directory: "" })).toThrow(/options\.directory/);
    expect(make({ directory: "a\0b" })).toThrow(/options\.directory/);
    expect(make({ directory, durability: "always" })).toThrow(/options\.durability must be "fsync" or "none"/);
    expect(make({ directory, lockTimeoutMs: -1 })).toThrow(/options\.lockTimeoutMs/);
    expect(make({ directory, codec: { encode: () => "" } })).toThrow(/options\.codec/);
    expect(make({ directory, durabilty: "none" })).toThrow(/unknown option "durabilty"/);
    expect(new FilePersistenceProvider({ directory }).durability).toBe("fsync");
  });

  it("creates its directory, with parents, on first use and not before", async () => {
    const nested = join(directory, "a", "b");
    const store = new FilePersistenceProvider({ directory: nested });
    await expect(stat(directory)).rejects.toThrow(/ENOENT/);
    const snapshot = fullSnapshot();
    await store.save(snapshot);
    expect(await readdir(nested)).toEqual([FilePersistenceProvider.fileNameFor(snapshot.foundryExecutionId, snapshot.workflowId)]);
  });

  it("names files in lowercase [a-z2-7] that differ in more than case, within 143 bytes, for any key", () => {
    const name = (a: string, b = "w") => FilePersistenceProvider.fileNameFor(a, b);
    const keys = ["A", "a", "../x", "/", "..", "nul\0", "é", "\ud800", "\ud801", "x".repeat(1000), ""];
    const names = keys.map((key) => name(key));
    for (const fileName of names) expect(fileName).toMatch(/^[sh]-[a-z2-7]*-[0-9a-z]*\.snapshot$/);
    expect(new Set(names.map((fileName) => fileName.toLowerCase())).size).toBe(keys.length);
    expect(Math.max(...names.map((fileName) => Buffer.byteLength(fileName)))).toBeLessThanOrEqual(143);
    expect(name("a|b", "c")).not.toBe(name("a", "b|c"));
    expect(name("ab", "")).not.toBe(name("a", "b"));
  });

  it("keeps keys with ../ and slashes inside its directory", async () => {
    const store = provider();
    for (const key of ["../escape", "../../escape", "/etc/passwd", "..", "a/../../b", "..\\windows"]) {
      await store.save(fullSnapshot({ foundryExecutionId: key, workflowId: key }));
    }
    expect(await readdir(root)).toEqual(["store"]);
    const names = await readdir(directory);
    expect(names).toHaveLength(6);
    for (const name of names) expect(name).toMatch(/^s-[a-z2-7]*-[a-z2-7]*\.snapshot$/);
  });

  it("round-trips 1,000-character keys under a hashed name and tells similar long keys apart", async () => {
    const store = provider();
    const long = fullSnapshot({ foundryExecutionId: "k".repeat(1000), workflowId: "w".repeat(1000) });
    const sibling = fullSnapshot({ foundryExecutionId: `${"k".repeat(999)}j`, workflowId: "w".repeat(1000), properties: { sibling: true } });
    await store.save(long);
    await store.save(sibling);
    expect(FilePersistenceProvider.fileNameFor(long.foundryExecutionId, long.workflowId)).toMatch(/^h-[a-z2-7]{32}-[0-9a-f]{64}\.snapshot$/);
    expect(await store.tryLoad(long.foundryExecutionId, long.workflowId)).toEqual(long);
    expect(await store.tryLoad(sibling.foundryExecutionId, sibling.workflowId)).toEqual(sibling);
  });

  it("refuses, in tryLoad and list, a record that carries other keys than the ones its name stands for", async () => {
    const store = provider();
    const stored = fullSnapshot();
    const asked = { foundryExecutionId: "k".repeat(500), workflowId: "other" };
    await store.save(stored);
    await writeFile(recordPath(asked), await readFile(recordPath(stored)));
    const error = await rejection(store.tryLoad(asked.foundryExecutionId, asked.workflowId));
    expect(error).toBeInstanceOf(SnapshotCorruptedError);
    expect(error.keys).toEqual(asked);
    expect(error.message).toContain(`holds the record of instance "${stored.foundryExecutionId}"`);
    const listed = await rejection(store.list());
    expect(listed).toBeInstanceOf(SnapshotCorruptedError);
    expect(listed.message).toContain("is not the file named for its keys");
  });

  describe("a damaged record raises SnapshotCorruptedError naming the keys", () => {
    // What each damage does to the header line, which holds the revision compare-and-set reads.
    const damages: Record<string, { header: "lost" | "intact" | "altered"; apply: (path: string) => Promise<void> }> = {
      "truncated to half": { header: "intact", apply: async (path) => truncate(path, Math.floor((await stat(path)).size / 2)) },
      "a changed character in the snapshot": {
        header: "intact",
        apply: async (path) => writeFile(path, (await readFile(path, "utf8")).replace("card declined", "card accepted")),
      },
      "a header that disagrees with the snapshot": {
        header: "altered",
        apply: async (path) => writeFile(path, (await readFile(path, "utf8")).replace('"revision":1', '"revision":7')),
      },
      "cut inside the header": { header: "lost", apply: (path) => truncate(path, 20) },
      empty: { header: "lost", apply: (path) => writeFile(path, "") },
      garbage: { header: "lost", apply: (path) => writeFile(path, "\u0000\u0001 not a record {") },
    };
    for (const [damage, { header, apply }] of Object.entries(damages)) {
      it(`${damage}: tryLoad and list reject${header === "lost" ? ", save refuses to replace it" : ""}, delete removes it`, async () => {
        const store = provider();
        const snapshot = fullSnapshot();
        const keys = { foundryExecutionId: snapshot.foundryExecutionId, workflowId: snapshot.workflowId };
        await store.save(snapshot);
        await apply(recordPath(snapshot));
        const loaded = await rejection(store.tryLoad(keys.foundryExecutionId, keys.workflowId));
        expect(loaded).toBeInstanceOf(SnapshotCorruptedError);
        expect(loaded.keys).toEqual(keys);
        expect(loaded.message).toContain(`instance "${keys.foundryExecutionId}" / workflow "${keys.workflowId}"`);
        // list() reads the keys from the header line: without one it can name only the file.
        const listed = await rejection(store.list());
        expect(listed).toBeInstanceOf(SnapshotCorruptedError);
        if (header === "lost") expect([listed.keys, listed.message.includes(recordPath(snapshot))]).toEqual([{ foundryExecutionId: "*", workflowId: "*" }, true]);
        else expect(listed.keys).toEqual(keys);
        const handed: SnapshotCorruptedError[] = [];
        expect(await store.list({}, undefined, { onUnreadable: (error) => handed.push(error) })).toEqual([]);
        expect(handed.map((error) => error.keys)).toEqual([listed.keys]);
        // Without a revision to compare with, compare-and-set cannot decide: nothing is written.
        if (header === "lost") expect(await rejection(store.save(nextRevision(snapshot)))).toBeInstanceOf(SnapshotCorruptedError);
        await store.delete(keys.foundryExecutionId, keys.workflowId);
        expect(await store.tryLoad(keys.foundryExecutionId, keys.workflowId)).toBeUndefined();
      });
    }
  });

  describeUnreadableListing(() => Promise.resolve({ provider: provider(), writer: (codec) => provider({ codec }) }));

  it("ignores leftover temporary files in tryLoad and list, and removes those of dead writers and older than a minute", async () => {
    await mkdir(directory, { recursive: true });
    const dead = join(directory, `t-${deadPid()}-00aa.tmp`);
    const old = join(directory, `t-${process.pid}-00bb.tmp`);
    const inFlight = join(directory, `t-${process.pid}-00cc.tmp`);
    for (const path of [dead, old, inFlight]) await writeFile(path, "half a rec");
    await utimes(old, minutesAgo(2), minutesAgo(2));
    const store = provider();
    const snapshot = fullSnapshot();
    expect(await store.tryLoad(snapshot.foundryExecutionId, snapshot.workflowId)).toBeUndefined();
    // First use removed the dead writer's and the old file; a live writer's fresh file is left to it.
    expect((await readdir(directory)).sort()).toEqual([`t-${process.pid}-00cc.tmp`]);
    await store.save(snapshot);
    await utimes(inFlight, minutesAgo(2), minutesAgo(2));
    expect(await store.list()).toEqual([snapshot]);
    expect(await readdir(directory)).toEqual([FilePersistenceProvider.fileNameFor(snapshot.foundryExecutionId, snapshot.workflowId)]);
  });

  it("list() removes the stale lock a killed save left on an instance never written again, and no other lock", async () => {
    const store = provider();
    const [killed, fresh, live] = [fullSnapshot(), fullSnapshot(), fullSnapshot()];
    await store.save(live);
    await plantFile(lockPath(killed), `${deadPid()} abc\n`, secondsAgo(10));
    await plantFile(lockPath(fresh), `${deadPid()} def\n`, secondsAgo(1));
    await plantFile(lockPath(live), `${process.pid} ghi\n`, secondsAgo(10));
    expect(await store.list()).toEqual([live]);
    const left = await readdir(directory);
    expect(left).not.toContain(basename(lockPath(killed)));
    expect(left).toEqual(expect.arrayContaining([basename(lockPath(fresh)), basename(lockPath(live))]));
  });

  it("lists only its records, ignoring lock files and files it did not write", async () => {
    const store = provider();
    const snapshot = fullSnapshot();
    await store.save(snapshot);
    await writeFile(lockPath(fullSnapshot()), `${process.pid} abc\n`);
    await writeFile(join(directory, "README.txt"), "not a snapshot");
    await writeFile(join(directory, ".DS_Store"), "");
    expect(await store.list()).toEqual([snapshot]);
  });

  it("stores the codec's text after a header line and decodes it with the codec", async () => {
    const codec = taggedJsonCodec;
    const store = provider({ codec });
    const snapshot = fullSnapshot();
    await store.save(snapshot);
    const [header, body] = (await readFile(recordPath(snapshot), "utf8")).split("\n");
    expect(JSON.parse(header as string)).toMatchObject({ foundryExecutionId: snapshot.foundryExecutionId, revision: 1 });
    expect(body).toBe(codec.encode(snapshot));
    expect(await store.tryLoad(snapshot.foundryExecutionId, snapshot.workflowId)).toEqual(snapshot);
  });

  it("turns a failing file system into PersistenceError with source, call, keys and cause", async () => {
    await writeFile(directory, "a regular file where the directory should be");
    const store = provider();
    const snapshot = fullSnapshot();
    const keys = { foundryExecutionId: snapshot.foundryExecutionId, workflowId: snapshot.workflowId };
    const calls = {
      save: () => store.save(snapshot),
      tryLoad: () => store.tryLoad(keys.foundryExecutionId, keys.workflowId),
      delete: () => store.delete(keys.foundryExecutionId, keys.workflowId),
      list: () => store.list(),
    };
    for (const [call, run] of Object.entries(calls)) {
      const error = await rejection(run());
      expect(error).toBeInstanceOf(PersistenceError);
      expect(error.message).toMatch(new RegExp(`^\\[workflowforge:file\\] ${call} failed for instance`));
      expect(error.call).toBe(call);
      expect(error.keys).toEqual(call === "list" ? { foundryExecutionId: "*", workflowId: "*" } : keys);
      expect(error.cause).toMatchObject({ code: expect.stringMatching(/^(EEXIST|ENOTDIR)$/) });
    }
  });

  it("two providers on one directory see each other's writes and compare-and-set holds between them", async () => {
    const [a, b] = [provider(), provider()];
    const first = fullSnapshot();
    await a.save(first);
    expect(await b.tryLoad(first.foundryExecutionId, first.workflowId)).toEqual(first);
    const second = nextRevision(first, { owner: "b" });
    await b.save(second);
    expect(await rejection(a.save(nextRevision(first, { owner: "a" })))).toBeInstanceOf(SnapshotConflictError);
    let current = second;
    for (let round = 0; round < 5; round++) {
      const attempts = Array.from({ length: 8 }, (_, writer) => nextRevision(current, { owner: `writer-${writer}` }));
      const results = await Promise.allSettled(attempts.map((attempt, writer) => (writer % 2 === 0 ? a : b).save(attempt)));
      const winners = attempts.filter((_, writer) => results[writer]?.status === "fulfilled");
      expect(winners).toHaveLength(1);
      current = winners[0] as WorkflowExecutionSnapshot;
      expect(await a.tryLoad(current.foundryExecutionId, current.workflowId)).toEqual(current);
    }
    await b.delete(current.foundryExecutionId, current.workflowId);
    expect(await a.tryLoad(current.foundryExecutionId, current.workflowId)).toBeUndefined();
  });

  describe("the per-instance lock file", () => {
    it("is gone after save and delete", async () => {
      const store = provider();
      const snapshot = fullSnapshot();
      await store.save(snapshot);
      await store.delete(snapshot.foundryExecutionId, snapshot.workflowId);
      expect(await readdir(directory)).toEqual([]);
    });

    it("makes a writer wait while another holds it, then proceed", async () => {
      const store = provider();
      const snapshot = fullSnapshot();
      await store.save(snapshot);
      await writeFile(lockPath(snapshot), `${process.pid} held-by-another-provider\n`);
      const released = new Promise((resolve) => setTimeout(resolve, 150)).then(() => rmSync(lockPath(snapshot)));
      const started = Date.now();
      await store.save(nextRevision(snapshot));
      expect(Date.now() - started).toBeGreaterThanOrEqual(100);
      await released;
      expect((await store.tryLoad(snapshot.foundryExecutionId, snapshot.workflowId))?.revision).toBe(2);
    });

    it("is broken when it is older than 5 s and its owner is dead", async () => {
      const store = provider();
      const snapshot = fullSnapshot();
      await store.save(snapshot);
      await plantFile(lockPath(snapshot), `${deadPid()} crashed\n`, secondsAgo(10));
      await store.save(nextRevision(snapshot));
      expect((await store.tryLoad(snapshot.foundryExecutionId, snapshot.workflowId))?.revision).toBe(2);
      expect(await readdir(directory)).toHaveLength(1);
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
        expect(await readdir(directory)).toHaveLength(1);
      });

      it("is not broken when its start time is this process's: a worker thread may hold it", async () => {
        for (const lock of [`${process.pid} a-worker ${ownStartTime()}\n`, header({ pid: process.pid, started: ownStartTime() })]) {
          const error = await refusedBehindOldLock(lock);
          expect(error.message).toContain(`is held by process ${process.pid}; gave up after 200 ms`);
        }
      });

      it("is judged by its pid alone when its line is cut short, since the start time may be cut too", async () => {
        const error = await refusedBehindOldLock(`${process.pid} cut-short ${String(ownStartTime()).slice(0, -1)}`);
        expect(error.message).toContain(`is held by process ${process.pid}; gave up after 200 ms`);
      });
    });

    it("is not broken while its owner lives, however old: the writer gives up after lockTimeoutMs", async () => {
      const error = await refusedBehindOldLock(`${process.ppid} alive\n`);
      expect(error).toBeInstanceOf(PersistenceError);
      expect(error.message).toContain(`is held by process ${process.ppid}; gave up after 200 ms`);
    });

    // The documented default, waited out once: 10 s of this file's run.
    it("is waited for 10 s by default before the writer gives up", { timeout: 20_000 }, async () => {
      const store = provider();
      const snapshot = fullSnapshot();
      await store.save(snapshot);
      await plantFile(lockPath(snapshot), `${process.ppid} alive\n`, secondsAgo(10));
      const started = Date.now();
      const error = await rejection(store.save(nextRevision(snapshot)));
      expect(Date.now() - started).toBeGreaterThanOrEqual(10_000);
      expect(error.message).toContain(`is held by process ${process.ppid}; gave up after 10000 ms`);
    });

    it("is the new record while a save holds it: its header names the writer, and the rename publishes it and releases the lock", async () => {
      const store = provider();
      const snapshot = fullSnapshot();
      await store.save(snapshot);
      const [header] = (await readFile(recordPath(snapshot), "utf8")).split("\n");
      expect(JSON.parse(header as string)).toMatchObject({ revision: 1, pid: process.pid, ...(procfs ? { started: ownStartTime() } : {}) });
      expect(await readdir(directory)).toEqual([FilePersistenceProvider.fileNameFor(snapshot.foundryExecutionId, snapshot.workflowId)]);
    });

    it("left by a save that died mid-write (a cut record naming a dead pid) is broken when older than 5 s", async () => {
      const store = provider({ lockTimeoutMs: 200 });
      const snapshot = fullSnapshot();
      await store.save(snapshot);
      const cut = `{"format":"workflowforge-file/1","foundryExecutionId":"x","workflowId":"y","revision":2,"status":"running","workflowName":"w","updatedAt":"t","pid":${deadPid()}}\nwf1:00`;
      await plantFile(lockPath(snapshot), cut, secondsAgo(10));
      await store.save(nextRevision(snapshot));
      expect((await store.tryLoad(snapshot.foundryExecutionId, snapshot.workflowId))?.revision).toBe(2);
      expect(await readdir(directory)).toHaveLength(1);
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
      expect(await readdir(directory)).toEqual([]);
    });

    it("is broken by a new provider's first call when stale, on an instance that call does not touch", async () => {
      const [killed, fresh] = [fullSnapshot(), fullSnapshot()];
      await provider().save(fresh);
      await plantFile(lockPath(killed), `${deadPid()} crashed\n`, secondsAgo(10));
      await plantFile(lockPath(fresh), `${deadPid()} just-now\n`, secondsAgo(1));
      expect(await provider().tryLoad("someone-else", "wf")).toBeUndefined();
      expect((await readdir(directory)).sort()).toEqual([basename(lockPath(fresh)), basename(recordPath(fresh))].sort());
    });

    it("is broken by one writer at a time: while another's breaker file is fresh, a stale lock is left to it", async () => {
      const store = provider({ lockTimeoutMs: 200 });
      const snapshot = fullSnapshot();
      await store.save(snapshot);
      const dead = deadPid();
      await plantFile(lockPath(snapshot), `${dead} crashed\n`, secondsAgo(10));
      await writeFile(breakerPath(snapshot), `${process.pid} breaking\n`);
      const error = await rejection(store.save(nextRevision(snapshot)));
      expect(error.message).toContain(`is held by process ${dead}`);
      // A breaker that died at it leaves its file; once that is stale too, the next writer clears both.
      await plantFile(breakerPath(snapshot), `${dead} died-breaking\n`, secondsAgo(10));
      await store.save(nextRevision(snapshot));
      expect((await store.tryLoad(snapshot.foundryExecutionId, snapshot.workflowId))?.revision).toBe(2);
      expect(await readdir(directory)).toHaveLength(1);
    });

    it("stops waiting when the signal aborts, with the signal's reason, and lets the next writer in", async () => {
      const store = provider();
      const snapshot = fullSnapshot();
      await mkdir(directory, { recursive: true });
      await writeFile(lockPath(snapshot), `${process.pid} held\n`);
      const reason = new Error("stop waiting");
      const controller = new AbortController();
      setTimeout(() => controller.abort(reason), 50);
      expect(await rejection(store.save(snapshot, controller.signal))).toBe(reason);
      rmSync(lockPath(snapshot));
      await store.save(snapshot);
      expect(await store.tryLoad(snapshot.foundryExecutionId, snapshot.workflowId)).toEqual(snapshot);
    });
  });

  // Linux lists a process's open descriptors in /proc/self/fd, each a link to its file.
  it.skipIf(process.platform !== "linux")("keeps one descriptor open per instance it saved, at most 64, and closes it on delete", async () => {
    const openHere = async () => {
      const links = await Promise.all((await readdir("/proc/self/fd")).map((fd) => readlink(`/proc/self/fd/${fd}`).catch(() => "")));
      return links.filter((link) => link.startsWith(directory)).length;
    };
    const store = provider();
    const snapshots = Array.from({ length: 70 }, (_, i) => fullSnapshot({ foundryExecutionId: `fd-${i}` }));
    for (const snapshot of snapshots.slice(0, 3)) await store.save(snapshot);
    expect(await openHere()).toBe(3);
    for (const snapshot of snapshots.slice(0, 3)) await store.save(nextRevision(snapshot));
    expect(await openHere(), "a later save keeps the new record and closes the old").toBe(3);
    for (const snapshot of snapshots.slice(3)) await store.save(snapshot);
    expect(await openHere()).toBe(64);
    for (const snapshot of snapshots) await store.delete(snapshot.foundryExecutionId, snapshot.workflowId);
    expect(await openHere()).toBe(0);
  });

  it("reads the stored revision from the record again when another writer replaced or deleted it since its own save", async () => {
    const [a, b] = [provider(), provider()];
    const first = fullSnapshot();
    await a.save(first);
    await b.delete(first.foundryExecutionId, first.workflowId);
    expect(await rejection(a.save(nextRevision(first)))).toBeInstanceOf(SnapshotConflictError);
    await b.save(first);
    const byB = nextRevision(first, { owner: "b" });
    await b.save(byB);
    await a.save(first).catch(() => undefined);
    expect(await rejection(a.save(nextRevision(first, { owner: "a" })))).toBeInstanceOf(SnapshotConflictError);
    await a.save(nextRevision(byB, { owner: "a" }));
    expect((await b.tryLoad(first.foundryExecutionId, first.workflowId))?.owner).toBe("a");
  });

  it("keeps compare-and-set between real processes: no update is lost", { timeout: 60_000 }, async () => {
    const processes = 4;
    const increments = 15;
    const initial = fullSnapshot({ properties: { log: [] } });
    await new FilePersistenceProvider({ directory }).save(initial);
    const go = join(root, "go");
    const script = `
      const { existsSync } = await import("node:fs");
      const { FilePersistenceProvider } = await import(process.env.PROVIDER);
      const { directory, go, name, increments, keys } = JSON.parse(process.env.JOB);
      const provider = new FilePersistenceProvider({ directory });
      process.stdout.write("ready\\n");
      while (!existsSync(go)) await new Promise((resolve) => setTimeout(resolve, 2));
      let wins = 0, conflicts = 0;
      while (wins < increments) {
        const stored = await provider.tryLoad(keys.foundryExecutionId, keys.workflowId);
        const next = { ...stored, revision: stored.revision + 1, properties: { log: [...stored.properties.log, name + "-" + wins] } };
        try { await provider.save(next); wins++; } catch (error) { if (error.code !== "SNAPSHOT_CONFLICT") throw error; conflicts++; }
      }
      process.stdout.write(JSON.stringify({ conflicts }) + "\\n");`;
    const keys = { foundryExecutionId: initial.foundryExecutionId, workflowId: initial.workflowId };
    const children = Array.from({ length: processes }, (_, index) => {
      const job = JSON.stringify({ directory, go, name: `p${index}`, increments, keys });
      const provider = new URL("../../../src/persistence/providers/file.ts", import.meta.url).href;
      const child = spawn(process.execPath, ["--import", "tsx", "--input-type=module", "-e", script], { env: { ...process.env, JOB: job, PROVIDER: provider } });
      let output = "";
      child.stdout.on("data", (chunk: Buffer) => (output += chunk.toString()));
      child.stderr.on("data", (chunk: Buffer) => (output += chunk.toString()));
      const ready = new Promise<void>((resolve) => child.stdout.on("data", () => output.includes("ready") && resolve()));
      const exited = new Promise<string>((resolve, reject) => child.on("exit", (code) => (code === 0 ? resolve(output) : reject(new Error(output)))));
      return { ready, exited };
    });
    await Promise.all(children.map((child) => child.ready));
    await writeFile(go, "");
    const outputs = await Promise.all(children.map((child) => child.exited));
    const stored = await provider().tryLoad(keys.foundryExecutionId, keys.workflowId);
    const log = stored?.properties.log as string[];
    expect(stored?.revision).toBe(1 + processes * increments);
    expect(new Set(log).size).toBe(processes * increments);
    const conflicts = outputs.reduce((sum, output) => sum + (JSON.parse(output.trim().split("\n").at(-1) as string) as { conflicts: number }).conflicts, 0);
    expect(conflicts, "the processes did race").toBeGreaterThan(0);
  });
});
