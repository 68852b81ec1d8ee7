import { execFileSync, spawnSync } from "node:child_process";
import { chmodSync, constants, openSync, closeSync } from "node:fs";
import { mkdir, readdir, symlink, utimes, writeFile } from "node:fs/promises";
import { basename, join } from "node:path";
import { describe, expect, it } from "vitest";
import { SnapshotCorruptedError } from "../../../../src/persistence/errors.js";
import type { FilePersistenceProvider } from "../../../../src/persistence/providers/file/index.js";
import { thisOwner } from "../../../../src/persistence/providers/file/owner.js";
import { fullSnapshot } from "../../../../src/persistence/testing/fixtures.js";
import { describeUnreadableListing } from "../unreadable-cases.js";
import { deadPid, procfs } from "../../../support/processes.js";
import { plantFile, useFileStore } from "../../../support/file-store.js";

const files = useFileStore("file-list");
const { provider, recordPath, lockPath } = files;
const ago = (ms: number) => new Date(Date.now() - ms);
const anyKeys = { foundryExecutionId: "*", workflowId: "*" };

/** Two readable records, saved; the path of a third instance's record, for a case to put something unreadable at. */
async function twoRecordsAndABadPath() {
  const store = provider();
  const readable = [fullSnapshot({ status: "running" }), fullSnapshot({ status: "failed" })];
  for (const snapshot of readable) await store.save(snapshot);
  return { store, readable, bad: recordPath({ foundryExecutionId: "bad-entry", workflowId: "wf" }) };
}

/** What list() gives with onUnreadable: the instances listed and the errors handed over; and what it rejects with without. */
async function listing(store: FilePersistenceProvider) {
  const unreadable: SnapshotCorruptedError[] = [];
  const listed = await store.list({}, undefined, { onUnreadable: (error) => unreadable.push(error) });
  const whole = await store.list().then(() => undefined, (error: unknown) => error);
  return { listed: listed.map((snapshot) => snapshot.foundryExecutionId).sort(), unreadable, whole };
}

describe("FilePersistenceProvider.list()", () => {
  describeUnreadableListing(() => Promise.resolve({ provider: provider(), writer: (codec) => provider({ codec }) }));

  describe("reports an entry under a record's name that it cannot read, and lists every other record", () => {
    const cases: Record<string, (path: string) => Promise<void> | void> = {
      "a directory": (path) => mkdir(path),
      "a symbolic link to itself (ELOOP)": (path) => symlink(basename(path), path),
      "junk content": (path) => writeFile(path, "\u0000 not a record"),
      ...(process.platform === "win32"
        ? {}
        : {
            // A FIFO that no one writes to: a blocking open would never return.
            "a FIFO": (path: string) => void execFileSync("mkfifo", [path]),
            // Not followed (Windows follows it): followed, it would look like no record at all.
            "a dangling symbolic link": (path: string) => symlink(join(files.root, "missing"), path),
          }),
    };
    for (const [entry, make] of Object.entries(cases)) {
      it(entry, async () => {
        const { store, readable, bad } = await twoRecordsAndABadPath();
        await make(bad);
        try {
          const { listed, unreadable, whole } = await listing(store);
          expect(listed).toEqual(readable.map((snapshot) => snapshot.foundryExecutionId).sort());
          expect(unreadable).toHaveLength(1);
          expect(unreadable[0]).toBeInstanceOf(SnapshotCorruptedError);
          expect([unreadable[0]?.keys, unreadable[0]?.message.includes(bad)]).toEqual([anyKeys, true]);
          expect(whole).toBeInstanceOf(SnapshotCorruptedError);
        } finally {
          // Lets a reader that blocked on the FIFO go (no reader: ENXIO, ignored).
          if (entry === "a FIFO") {
            try {
              closeSync(openSync(bad, constants.O_WRONLY | constants.O_NONBLOCK));
            } catch {
              // nobody was waiting
            }
          }
        }
      });
    }

    // Root reads any file, so the check runs in a child that gives up root first.
    it.skipIf(process.platform === "win32")("a file this process may not read (EACCES)", { timeout: 30_000 }, async () => {
      const { readable, bad } = await twoRecordsAndABadPath();
      await writeFile(bad, "secret");
      for (const path of [files.root, files.directory]) chmodSync(path, 0o755);
      chmodSync(bad, 0o000);
      const script = `
        const { FilePersistenceProvider } = await import(process.env.PROVIDER);
        if (process.getuid() === 0) { process.setgid(65534); process.setuid(65534); }
        const provider = new FilePersistenceProvider({ directory: process.env.DIRECTORY, durability: "none" });
        const unreadable = [];
        const listed = await provider.list({}, undefined, { onUnreadable: (error) => unreadable.push({ keys: error.keys, message: error.message, cause: error.cause?.code }) });
        const whole = await provider.list().then(() => "resolved", (error) => error.code);
        const loaded = await provider.tryLoad("bad-entry", "wf").then(() => "resolved", (error) => error.code + " " + error.message);
        process.stdout.write(JSON.stringify({ listed: listed.map((snapshot) => snapshot.foundryExecutionId).sort(), unreadable, whole, loaded }));`;
      const PROVIDER = new URL("../../../../src/persistence/providers/file/index.ts", import.meta.url).href;
      const child = spawnSync(process.execPath, ["--import", "tsx", "--input-type=module", "-e", script], { env: { ...process.env, PROVIDER, DIRECTORY: files.directory }, encoding: "utf8" });
      expect(child.stderr).toBe("");
      expect(JSON.parse(child.stdout)).toEqual({
        listed: readable.map((snapshot) => snapshot.foundryExecutionId).sort(),
        // Refused, not damaged: no advice to delete what may be an intact record.
        unreadable: [{ keys: anyKeys, message: expect.stringMatching(new RegExp(`${bad} cannot be read: EACCES \\(this process may not read it: run as the store's owner, or change the file's mode\\)$`)), cause: "EACCES" }],
        whole: "SNAPSHOT_CORRUPTED",
        // tryLoad of that record says the same.
        loaded: expect.stringMatching(/^SNAPSHOT_CORRUPTED .* cannot be read: EACCES \(this process may not read it: run as the store's owner, or change the file's mode\)$/),
      });
    });

    // A directory that cannot be searched fails every call: no record's fault, so not "delete removes it".
    it.skipIf(process.platform === "win32")("a directory this process may not search: tryLoad fails as the store's failure, not a record's", { timeout: 30_000 }, async () => {
      const { bad } = await twoRecordsAndABadPath();
      await writeFile(bad, "a record");
      chmodSync(files.root, 0o755);
      try {
        // Set up while the directory may be searched, then locked out of it: the open itself fails.
        const script = `
          const { chmodSync } = await import("node:fs");
          const { FilePersistenceProvider } = await import(process.env.PROVIDER);
          const provider = new FilePersistenceProvider({ directory: process.env.DIRECTORY, durability: "none" });
          await provider.tryLoad("another", "wf");
          chmodSync(process.env.DIRECTORY, 0o600);
          if (process.getuid() === 0) { process.setgid(65534); process.setuid(65534); }
          process.stdout.write(await provider.tryLoad("bad-entry", "wf").then(() => "resolved", (error) => error.code + " " + error.cause?.code));`;
        const PROVIDER = new URL("../../../../src/persistence/providers/file/index.ts", import.meta.url).href;
        const child = spawnSync(process.execPath, ["--import", "tsx", "--input-type=module", "-e", script], { env: { ...process.env, PROVIDER, DIRECTORY: files.directory }, encoding: "utf8" });
        expect([child.stderr, child.stdout]).toEqual(["", "PERSISTENCE EACCES"]);
      } finally {
        chmodSync(files.directory, 0o755);
      }
    });
  });

  it("ignores writers' own files, and removes those of gone writers and, where a pid alone names one, older than a minute", async () => {
    await mkdir(files.directory, { recursive: true });
    const { pid, started = 0 } = thisOwner();
    const [dead, old, inFlight] = [`t-${deadPid()}-00aa.tmp`, `t-${pid}-00bb.tmp`, `t-${pid}-00cc.tmp`];
    // Named with a start time: this process's is known to live, however old its file; an earlier process's is gone.
    const [liveOld, earlierProcess] = procfs ? [`t-${pid}-s${started}-00dd.tmp`, `t-${pid}-s${started - 1}-00ee.tmp`] : [];
    const twoMinutesOld = [dead, old, liveOld, earlierProcess].filter((name) => name !== undefined);
    for (const name of [...twoMinutesOld, inFlight]) await plantFile(join(files.directory, name), "half a rec", ago(name === inFlight ? 0 : 120_000));
    const store = provider();
    const snapshot = fullSnapshot();
    expect(await store.tryLoad(snapshot.foundryExecutionId, snapshot.workflowId)).toBeUndefined();
    const kept = liveOld === undefined ? [] : [liveOld];
    expect((await readdir(files.directory)).sort()).toEqual([inFlight, ...kept].sort());
    await store.save(snapshot);
    await utimes(join(files.directory, inFlight), ago(120_000), ago(120_000));
    expect(await store.list()).toEqual([snapshot]);
    expect((await readdir(files.directory)).sort()).toEqual([basename(recordPath(snapshot)), ...kept].sort());
  });

  it("removes the mailbox a killed delete moved aside, with its events, once its writer is gone", async () => {
    await mkdir(files.directory, { recursive: true });
    const moved = join(files.directory, `t-${deadPid()}-00ff.tmp`);
    await mkdir(moved);
    await plantFile(join(moved, "e-mf.event"), "an event of a deleted instance", ago(0));
    const store = provider();
    const snapshot = fullSnapshot();
    await store.save(snapshot);
    expect(await readdir(files.directory)).toEqual([basename(recordPath(snapshot))]);
  });

  it("removes the stale lock a killed save left on an instance never written again, and no other lock", async () => {
    const store = provider();
    const [killed, fresh, live] = [fullSnapshot(), fullSnapshot(), fullSnapshot()];
    await store.save(live);
    await plantFile(lockPath(killed), `${deadPid()} abc\n`, ago(10_000));
    await plantFile(lockPath(fresh), `${deadPid()} def\n`, ago(1_000));
    await plantFile(lockPath(live), `${process.pid} ghi\n`, ago(10_000));
    expect(await store.list()).toEqual([live]);
    const left = await readdir(files.directory);
    expect(left).not.toContain(basename(lockPath(killed)));
    expect(left).toEqual(expect.arrayContaining([basename(lockPath(fresh)), basename(lockPath(live))]));
  });

  it("lists only its records, ignoring lock files and files it did not write", async () => {
    const store = provider();
    const snapshot = fullSnapshot();
    await store.save(snapshot);
    await writeFile(lockPath(fullSnapshot()), `${process.pid} abc\n`);
    await writeFile(join(files.directory, "README.txt"), "not a snapshot");
    await writeFile(join(files.directory, ".DS_Store"), "");
    expect(await store.list()).toEqual([snapshot]);
  });
});
