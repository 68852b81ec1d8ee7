import { spawn } from "node:child_process";
import { readdir } from "node:fs/promises";
import { describe, expect, it } from "vitest";
import { useFileStore } from "../../../support/file-store.js";

// Real processes delivering through FilePersistenceProvider, each its own provider on one directory.
// A deliverer prints `ready`, waits for a line on its stdin, then delivers every event of JOB at
// once, its name as the payload, and prints which it stored. With `forever`, it delivers one large
// event after another, printing `stored <n>` after each, until it is killed.
const delivererScript = `
  const { FilePersistenceProvider } = await import(process.env.PROVIDER);
  const { directory, name, durability, instances, eventIds, forever } = JSON.parse(process.env.JOB);
  const provider = new FilePersistenceProvider({ directory, durability });
  const go = new Promise((resolve) => process.stdin.once("data", resolve));
  process.stdout.write("ready\\n");
  await go;
  const event = (foundryExecutionId, eventId, payload) => ({ foundryExecutionId, workflowId: "expense", name: "approved", eventId, payload, sentAt: new Date().toISOString() });
  if (forever) {
    const payload = "x".repeat(1 << 20);
    for (let n = 1; ; n++) { await provider.deliver(event(instances[0], name + "-" + n, payload)); process.stdout.write("stored " + n + "\\n"); }
  }
  const jobs = instances.flatMap((instance) => eventIds.map((eventId) => ({ instance, eventId })));
  const stored = await Promise.all(jobs.map(({ instance, eventId }) => provider.deliver(event(instance, eventId, name))));
  process.stdout.write(JSON.stringify(jobs.filter((_, index) => stored[index]).map(({ instance, eventId }) => instance + "/" + eventId)) + "\\n");
  process.stdin.destroy();`;

const files = useFileStore("file-mailbox-processes");

interface Deliverer {
  readonly name: string;
  go(): void;
  kill(): void;
  /** Resolves once its output holds `text`. */
  printed(text: string): Promise<void>;
  /** Its output once it exits with 0; rejects naming it otherwise (a kill included). */
  readonly exited: Promise<string>;
}

async function startDeliverers(count: number, job: object): Promise<Deliverer[]> {
  const PROVIDER = new URL("../../../../src/persistence/providers/file/index.ts", import.meta.url).href;
  const started = Array.from({ length: count }, (_, index) => {
    const name = `d${index}`;
    const JOB = JSON.stringify({ directory: files.directory, name, durability: index % 2 === 0 ? "fsync" : "none", ...job });
    const child = spawn(process.execPath, ["--import", "tsx", "--input-type=module", "-e", delivererScript], { env: { ...process.env, JOB, PROVIDER } });
    let output = "";
    const watchers: (() => void)[] = [];
    const onData = (chunk: Buffer): void => {
      output += chunk.toString();
      for (const watch of watchers) watch();
    };
    child.stdout.on("data", onData);
    child.stderr.on("data", onData);
    const printed = (text: string): Promise<void> =>
      new Promise((resolve) => {
        const watch = (): void => void (output.includes(text) && resolve());
        watchers.push(watch);
        watch();
      });
    const exited = new Promise<string>((resolve, reject) => child.on("exit", (code) => (code === 0 ? resolve(output) : reject(new Error(`${name} exited with ${code}: ${output}`)))));
    const deliverer: Deliverer = { name, go: () => void child.stdin.write("go\n"), kill: () => void child.kill("SIGKILL"), printed, exited };
    return deliverer;
  });
  await Promise.all(started.map((deliverer) => deliverer.printed("ready")));
  return started;
}

describe("FilePersistenceProvider's mailbox with deliverers in several processes", () => {
  it("stores each eventId once when four processes deliver the same events at the same moment, keeping the winner's payload", { timeout: 60_000 }, async () => {
    const instances = ["order-1", "order-2", "order-3"];
    const eventIds = Array.from({ length: 40 }, (_, index) => `mail-${index}`);
    const deliverers = await startDeliverers(4, { instances, eventIds });
    for (const deliverer of deliverers) deliverer.go();
    const outputs = await Promise.all(deliverers.map((deliverer) => deliverer.exited));
    const winners = new Map<string, string[]>();
    outputs.forEach((output, index) => {
      for (const stored of JSON.parse(output.slice(output.indexOf("["))) as string[]) winners.set(stored, [...(winners.get(stored) ?? []), deliverers[index]?.name as string]);
    });
    expect([...winners].filter(([, names]) => names.length !== 1), "events stored by more than one process").toEqual([]);
    expect(winners.size).toBe(instances.length * eventIds.length);
    const reader = files.provider();
    for (const instance of instances) {
      const received = await reader.receive({ foundryExecutionId: instance, workflowId: "expense" }, "approved");
      expect(received.map((event) => event.eventId).sort()).toEqual([...eventIds].sort());
      expect(received.map((event) => event.payload)).toEqual(received.map((event) => winners.get(`${instance}/${event.eventId}`)?.[0]));
    }
    // One delivery in four failed to link: none of the losers' files stays.
    expect((await readdir(files.directory)).filter((name) => name.endsWith(".tmp"))).toEqual([]);
  });

  it("never shows half an event after a deliverer is killed mid-delivery, and its leftover file is swept", { timeout: 60_000 }, async () => {
    const keys = { foundryExecutionId: "order-1", workflowId: "expense" };
    const [deliverer] = await startDeliverers(1, { instances: [keys.foundryExecutionId], eventIds: [], forever: true });
    deliverer?.go();
    await deliverer?.printed("stored 3\n");
    deliverer?.kill();
    await expect(deliverer?.exited).rejects.toThrow(/exited with null/);
    const reader = files.provider();
    const received = await reader.receive(keys, "approved");
    expect(received.length).toBeGreaterThanOrEqual(3);
    expect(received.every((event) => event.payload === "x".repeat(1 << 20))).toBe(true);
    expect(received.map((event) => event.eventId)).toEqual(Array.from({ length: received.length }, (_, index) => `d0-${index + 1}`));
    // A dead writer's own file goes with the next sweep (list() makes one).
    await reader.list();
    expect((await readdir(files.directory)).filter((name) => name.endsWith(".tmp"))).toEqual([]);
  });
});
