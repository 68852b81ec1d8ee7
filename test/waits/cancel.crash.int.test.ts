import { spawn, type ChildProcess } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, expect, it } from "vitest";
import { createRecoveryCoordinator, type WorkflowPersistenceProvider } from "../../src/persistence/index.js";
import { FilePersistenceProvider } from "../../src/persistence/providers/file/index.js";
import { bundleForChild } from "../support/bundle.js";
import { describeWithServer } from "../support/describe-with-server.js";
import { startPostgres } from "../support/postgres-server.js";
import { startRedis } from "../support/redis-server.js";
import { openStore } from "../persistence/workers/stores.js";
import { cancelWorkflow } from "./cancel-child.js";
import { scaled } from "../support/thorough.js";

// Acceptance 6 of issue 16, with crashes: in each round a worker process runs a few instances
// (reserve → work → a 30-day sleep → charge) while another process cancels them all (with
// compensate or not); one of the two is SIGKILLed after a random number of its cancellations. Then
// the cancellation is sent again and a new worker runs what is left. Every instance must end stored
// `cancelled`, never charged; restored (release) when compensate was asked and its work had run, and
// never restored otherwise. The file provider, SQLite, Postgres and Redis: the stores processes share.
// Three rounds of six instances per store in .ci/run, one in a local npm test, each killing at a
// random point; WORKFLOWFORGE_CANCEL_ROUNDS runs more.
const ROUNDS = scaled("WORKFLOWFORGE_CANCEL_ROUNDS", 1, 3);
const PER_ROUND = 6;

const child = bundleForChild(fileURLToPath(new URL("./cancel-child.ts", import.meta.url)));
const root = mkdtempSync(join(tmpdir(), "wf-cancel-crash-"));
afterAll(() => rmSync(root, { recursive: true, force: true }));

type Store = "file" | "sqlite" | "postgres" | "redis";

function start(store: Store, url: string, log: string, extra: Record<string, string>): { process: ChildProcess; exited: Promise<number | null>; lines: string[]; printed: (count: number) => Promise<void> } {
  const processHandle = spawn(process.execPath, [child], { env: { ...process.env, CHILD_STORE: store, CHILD_URL: url, CHILD_LOG: log, ...extra }, stdio: ["ignore", "pipe", "inherit"] });
  const exited = new Promise<number | null>((resolve) => processHandle.once("exit", (code, signal) => resolve(signal === null ? code : null)));
  const lines: string[] = [];
  const waiters: { count: number; resolve: () => void }[] = [];
  let text = "";
  processHandle.stdout?.on("data", (chunk: Buffer) => {
    text += chunk.toString();
    const parts = text.split("\n");
    text = parts.pop() ?? "";
    lines.push(...parts);
    for (const waiter of waiters.filter((candidate) => lines.length >= candidate.count)) waiter.resolve();
  });
  // Resolves once `count` lines are out, or the process has exited.
  const printed = (count: number) => Promise.race([new Promise<void>((resolve) => (lines.length >= count ? resolve() : waiters.push({ count, resolve }))), exited.then(() => undefined)]);
  return { process: processHandle, exited, lines, printed };
}

async function stepsLogged(log: string, count: number, exited: Promise<unknown>): Promise<void> {
  let gone = false;
  void exited.then(() => (gone = true));
  while (!gone && (existsSync(log) ? readFileSync(log, "utf8").split("\n").length - 1 : 0) < count) await new Promise((resolve) => setTimeout(resolve, 5));
}

async function open(store: Store, url: string): Promise<{ provider: WorkflowPersistenceProvider; close: () => Promise<unknown> }> {
  return store === "file" ? { provider: new FilePersistenceProvider({ directory: url }), close: () => Promise.resolve() } : openStore(store, url);
}

async function round(store: Store, url: string, index: number): Promise<void> {
  const log = join(root, `${store}-${index}.log`);
  const ids = Array.from({ length: PER_ROUND }, (_, place) => `cancel-${store}-${index}-${place}`);
  const compensate = Math.random() < 0.5;
  const { provider, close } = await open(store, url);
  try {
    const coordinator = createRecoveryCoordinator({ provider, resolveWorkflow: () => cancelWorkflow });
    for (const instanceId of ids) await coordinator.enqueue(cancelWorkflow, { instanceId });
    const worker = start(store, url, log, { CHILD_MODE: "run" });
    // The worker has started a random number of steps: instances are reserving, working or sleeping.
    await stepsLogged(log, 1 + Math.floor(Math.random() * 2 * PER_ROUND), worker.exited);
    const canceller = start(store, url, log, { CHILD_MODE: "cancel", CHILD_INSTANCES: ids.join(","), CHILD_COMPENSATE: compensate ? "1" : "0" });
    const victim = Math.random() < 0.5 ? canceller : worker;
    await canceller.printed(Math.floor(Math.random() * PER_ROUND));
    victim.process.kill("SIGKILL");
    await canceller.exited;
    worker.process.kill("SIGKILL");
    await worker.exited;

    const again = start(store, url, log, { CHILD_MODE: "cancel", CHILD_INSTANCES: ids.join(","), CHILD_COMPENSATE: compensate ? "1" : "0" });
    expect(await again.exited).toBe(0);
    expect(again.lines.map((line) => line.split(" ")[0])).toEqual(ids);
    for (const line of again.lines) expect(["cancelled", "compensating", "finished"]).toContain(line.split(" ")[1]);
    const finisher = start(store, url, log, { CHILD_MODE: "run", CHILD_UNTIL_DONE: "1" });
    expect(await finisher.exited).toBe(0);

    const entries = existsSync(log) ? readFileSync(log, "utf8").split("\n") : [];
    for (const instanceId of ids) {
      expect(await provider.tryLoad(instanceId, cancelWorkflow.id), instanceId).toMatchObject({ status: "cancelled" });
      expect(entries, instanceId).not.toContain(`charge ${instanceId}`);
      if (!compensate) expect(entries, instanceId).not.toContain(`release ${instanceId}`);
      else if (entries.includes(`work ${instanceId}`)) expect(entries, instanceId).toContain(`release ${instanceId}`);
    }
  } finally {
    await close();
  }
}

function loop(store: Store, url: () => string): void {
  it(`${ROUNDS} rounds on ${store}: a canceller or the worker SIGKILLed mid-cancellation, every instance ends cancelled, restored only with compensate`, async () => {
    for (let index = 0; index < ROUNDS; index++) await round(store, url(), index);
  }, 120_000);
}

loop("file", () => {
  const directory = join(root, "file-store");
  mkdirSync(directory, { recursive: true });
  return directory;
});
loop("sqlite", () => join(root, "cancel.db"));
describeWithServer("on Postgres", await startPostgres(), (server) => {
  afterAll(() => server.stop());
  loop("postgres", () => server.url);
});
describeWithServer("on Redis", await startRedis(), (server) => {
  afterAll(() => server.stop());
  loop("redis", () => server.url);
});
