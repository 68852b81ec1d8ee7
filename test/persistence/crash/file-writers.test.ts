import { spawn } from "node:child_process";
import { readdirSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { describe, expect, it } from "vitest";
import { FilePersistenceProvider, type FilePersistenceProviderOptions } from "../../../src/persistence/providers/file/index.js";
import { lockOwner, processStat } from "../../../src/persistence/providers/file/owner.js";
import { fullSnapshot } from "../../../src/persistence/testing/fixtures.js";
import type { WorkflowExecutionSnapshot } from "../../../src/persistence/snapshot.js";
import { useFileStore } from "../../support/file-store.js";

// Real processes saving one instance through FilePersistenceProvider, each its own provider. A
// writer loads the record, appends its name to `properties.log` and saves the next revision,
// printing `won <revision>` when the save resolves, until it has won `increments` times or its
// stdin ends. Whatever happens, every revision is won once, by the writer the stored log names.
// With `gateFirstSave`, a writer prints `loaded` after its first load and saves only on the next
// line of its stdin, so that writers released together all save from the same revision.
const writerScript = `
  const { FilePersistenceProvider } = await import(process.env.PROVIDER);
  const { directory, name, keys, options, increments, gateFirstSave } = JSON.parse(process.env.JOB);
  const provider = new FilePersistenceProvider({ directory, ...options });
  let stopping = false;
  const nextLine = () => new Promise((resolve) => process.stdin.once("data", resolve));
  const go = nextLine();
  process.stdin.on("end", () => (stopping = true));
  process.stdout.write("ready\\n");
  await go;
  let wins = 0, conflicts = 0, rounds = 0;
  while (increments === undefined ? !stopping : wins < increments) {
    const stored = await provider.tryLoad(keys.foundryExecutionId, keys.workflowId);
    if (rounds++ === 0 && gateFirstSave) {
      const save = nextLine();
      process.stdout.write("loaded\\n");
      await save;
    }
    const next = { ...stored, revision: stored.revision + 1, properties: { log: [...stored.properties.log, name] } };
    try { await provider.save(next); wins++; process.stdout.write("won " + next.revision + "\\n"); }
    catch (error) { if (error.code !== "SNAPSHOT_CONFLICT") throw error; conflicts++; }
  }
  process.stdout.write("conflicts " + conflicts + "\\n");
  process.stdin.destroy();`;

const files = useFileStore("file-writers");

interface Writer {
  readonly name: string;
  readonly pid: number;
  signal(signal: NodeJS.Signals): void;
  /** Lets it start; `stop` also ends its stdin, so that one running until then finishes its round and exits. */
  go(stop?: boolean): void;
  stop(): void;
  /** Resolves once a writer started with `gateFirstSave` has loaded for its first save. */
  readonly loaded: Promise<void>;
  readonly exited: Promise<string>;
}

async function startWriters(count: number, job: { keys: object; options: FilePersistenceProviderOptions | object; increments?: number; gateFirstSave?: boolean }): Promise<Writer[]> {
  const PROVIDER = new URL("../../../src/persistence/providers/file/index.ts", import.meta.url).href;
  const writers = Array.from({ length: count }, (_, index) => {
    const name = `w${index}`;
    const JOB = JSON.stringify({ directory: files.directory, name, ...job });
    const child = spawn(process.execPath, ["--import", "tsx", "--input-type=module", "-e", writerScript], { env: { ...process.env, JOB, PROVIDER } });
    let output = "";
    child.stdout.on("data", (chunk: Buffer) => (output += chunk.toString()));
    child.stderr.on("data", (chunk: Buffer) => (output += chunk.toString()));
    const ready = new Promise<void>((resolve) => child.stdout.on("data", () => output.includes("ready") && resolve()));
    const loaded = new Promise<void>((resolve) => child.stdout.on("data", () => output.includes("loaded") && resolve()));
    const exited = new Promise<string>((resolve, reject) => child.on("exit", (code) => (code === 0 ? resolve(output) : reject(new Error(`${name}: ${output}`)))));
    const writer: Writer = {
      name,
      pid: child.pid as number,
      signal: (signal) => void child.kill(signal),
      go: () => void child.stdin.write("go\n"),
      stop: () => void child.stdin.end(),
      loaded,
      exited,
    };
    return { writer, ready };
  });
  await Promise.all(writers.map(({ ready }) => ready));
  return writers.map(({ writer }) => writer);
}

/** Every revision a writer was told it won is the stored log's entry for it, by that writer, and nothing else is stored. */
function expectOneWinnerPerRevision(writers: readonly Writer[], outputs: readonly string[], stored: WorkflowExecutionSnapshot | undefined): number {
  const winners = new Map<number, string[]>();
  outputs.forEach((output, index) => {
    for (const [, revision] of output.matchAll(/^won (\d+)$/gm)) winners.set(Number(revision), [...(winners.get(Number(revision)) ?? []), writers[index]?.name as string]);
  });
  expect([...winners].filter(([, names]) => names.length > 1), "revisions with two winners").toEqual([]);
  const log = stored?.properties.log as string[];
  expect(stored?.revision).toBe(1 + log.length);
  expect(Object.fromEntries(winners)).toEqual(Object.fromEntries(log.map((name, index) => [index + 2, [name]])));
  return outputs.reduce((sum, output) => sum + Number(/^conflicts (\d+)$/m.exec(output)?.[1]), 0);
}

/**
 * True once every thread of `pid` is stopped, or where /proc cannot tell (not Linux, or the process
 * is gone). The main thread's state alone is not enough: a libuv worker thread still running when
 * the leader stopped can finish the unlink it had started, such as a lock's release.
 */
function everyThreadStopped(pid: number): boolean {
  let threads: string[];
  try {
    threads = readdirSync(`/proc/${pid}/task`);
  } catch {
    return true;
  }
  return threads.every((thread) => {
    const state = processStat(Number(thread))?.state;
    return state === undefined || state === "T";
  });
}

describe("FilePersistenceProvider with writers in several processes", () => {
  it("keeps compare-and-set between real processes: no update is lost", { timeout: 60_000 }, async () => {
    const initial = fullSnapshot({ properties: { log: [] } });
    await files.provider({ durability: "fsync" }).save(initial);
    const keys = { foundryExecutionId: initial.foundryExecutionId, workflowId: initial.workflowId };
    const writers = await startWriters(4, { keys, options: {}, increments: 15, gateFirstSave: true });
    for (const writer of writers) writer.go();
    // All four first save revision 2: one wins it, three are refused, however the machine schedules them.
    await Promise.all(writers.map((writer) => writer.loaded));
    for (const writer of writers) writer.go();
    const outputs = await Promise.all(writers.map((writer) => writer.exited));
    const stored = await files.provider({ durability: "fsync" }).tryLoad(keys.foundryExecutionId, keys.workflowId);
    expect(stored?.revision).toBe(1 + 4 * 15);
    expect(expectOneWinnerPerRevision(writers, outputs, stored), "conflicts").toBeGreaterThanOrEqual(3);
  });

  // A writer stopped (SIGSTOP, a debugger, a paused VM) for longer than the stale-lock age, at any
  // moment: holding the lock or not, mid-write or not. Its lock, older than staleLockMs, names a
  // live process and must stand; once continued, it must not win a revision another writer won.
  // Windows has no SIGSTOP.
  it.skipIf(process.platform === "win32")("never gives one revision two winners, nor leaves an unreadable record, while writers are stopped past the stale-lock age", { timeout: 60_000 }, async () => {
    const staleLockMs = 40;
    const initial = fullSnapshot({ properties: { log: [] } });
    const observer = files.provider();
    await observer.save(initial);
    const keys = { foundryExecutionId: initial.foundryExecutionId, workflowId: initial.workflowId };
    const lock = join(files.directory, FilePersistenceProvider.fileNameFor(keys.foundryExecutionId, keys.workflowId).replace(/\.snapshot$/, ".lock"));
    // The lock's first line and inode, while its holder is stopped: undefined when there is none.
    const heldLock = () => {
      try {
        return { line: readFileSync(lock, "utf8").split("\n")[0] as string, ino: statSync(lock).ino };
      } catch {
        return undefined;
      }
    };
    const writers = await startWriters(3, { keys, options: { durability: "none", staleLockMs, lockTimeoutMs: 30_000 } });
    for (const writer of writers) writer.go();
    let rounds = 0;
    let stoppedHolding = 0;
    try {
      // At least 30 stops, and on until 5 of them caught a writer holding the lock.
      for (; rounds < 30 || (stoppedHolding < 5 && rounds < 150); rounds++) {
        await sleep(Math.random() * 20);
        const victim = writers[Math.floor(Math.random() * writers.length)] as Writer;
        victim.signal("SIGSTOP");
        // Linux tells when the signal has landed; elsewhere the pause below covers it.
        while (!everyThreadStopped(victim.pid)) await sleep(1);
        const held = heldLock();
        const holding = held !== undefined && lockOwner(held.line)?.pid === victim.pid;
        if (holding) stoppedHolding++;
        await sleep(staleLockMs * (2 + Math.random()));
        if (holding) expect(heldLock(), "the lock of a stopped, live writer stands").toEqual(held);
        // Never unreadable, whoever is stopped where: tryLoad rejects on a torn or empty record.
        expect((await observer.tryLoad(keys.foundryExecutionId, keys.workflowId))?.revision).toBeGreaterThanOrEqual(1);
        victim.signal("SIGCONT");
      }
    } finally {
      for (const writer of writers) {
        writer.signal("SIGCONT");
        writer.stop();
      }
    }
    const outputs = await Promise.all(writers.map((writer) => writer.exited));
    expectOneWinnerPerRevision(writers, outputs, await observer.tryLoad(keys.foundryExecutionId, keys.workflowId));
    expect(stoppedHolding, `stops that caught a writer holding the lock, of ${rounds}`).toBeGreaterThan(0);
  });
});
