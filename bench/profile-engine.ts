import { createFoundry, createSmith } from "../dist/index.js";
import { MemoryPersistenceProvider, createRecoveryCoordinator, usePersistence } from "../dist/persistence/index.js";
import { workflow, steps } from "./scale-out-protocol.js";

// In-process CPU per step of the engine + persistence path on the memory provider (no network):
// `npx tsx bench/profile-engine.ts <plain|coordinator> [instances]`, under --cpu-prof to profile.
const side = process.argv[2] ?? "coordinator";
const count = Number(process.argv[3] ?? 20_000);
const smith = createSmith();
async function inLanes(ids: readonly string[], lanes: number, task: (id: string) => Promise<unknown>): Promise<void> {
  let next = 0;
  await Promise.all(Array.from({ length: lanes }, async () => { while (next < ids.length) await task(ids[next++] as string); }));
}
async function round(tag: string, n: number): Promise<number> {
  const provider = new MemoryPersistenceProvider();
  const ids = Array.from({ length: n }, (_, i) => `${tag}-${i}`);
  if (side === "coordinator") {
    const enqueuer = createRecoveryCoordinator({ provider, resolveWorkflow: () => workflow });
    await inLanes(ids, 4, (id) => enqueuer.enqueue(workflow, { instanceId: id, properties: { n: 1 } }));
    await enqueuer.close();
  }
  const cpu = process.cpuUsage();
  if (side === "coordinator") {
    const coordinator = createRecoveryCoordinator({ provider, resolveWorkflow: () => workflow, concurrency: 4 });
    for (;;) {
      const report = await coordinator.resumeAll();
      if (report.failed[0] !== undefined) throw report.failed[0].error;
      if (report.resumed.length === 0) break;
    }
    await coordinator.close();
  } else {
    await inLanes(ids, 4, async (id) => {
      const foundry = usePersistence(createFoundry(workflow.name, { executionId: id, properties: { n: 1 } }), provider, { instanceId: id, workflowKey: workflow.id });
      await smith.forge(workflow, foundry, { input: 0 });
    });
  }
  const used = process.cpuUsage(cpu);
  return (used.user + used.system) / (n * steps);
}
await round("warm", 2_000);
const results: number[] = [];
for (let i = 0; i < 3; i++) results.push(await round(`m${i}`, count));
console.log(side, "cpu us/step", results.map((r) => r.toFixed(2)).join(" "));
