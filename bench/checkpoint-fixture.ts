import { createFoundry } from "../dist/index.js";
import { MemoryPersistenceProvider, usePersistence, type WorkflowExecutionSnapshot } from "../dist/persistence/index.js";

// The workload every provider bench checkpoints: a 200-step workflow with a 10-key order bag.
// Shared so that the providers' numbers compare the same snapshots.

export const steps = 200;
export type Bag = Record<string, unknown>;

/** The order workflow for `name` ("SqliteBench", ...), its keys, and the snapshots a run saves. */
export function checkpointFixture(name: string) {
  const initialProperties = (): Bag => ({
    orderId: "order-000042",
    customer: { id: "c-1042", name: "Ada Lovelace", email: "ada@example.com", vip: false },
    items: [
      { sku: "SKU-1", qty: 2, price: 19.99 },
      { sku: "SKU-2", qty: 1, price: 5.5 },
      { sku: "SKU-3", qty: 4, price: 0.99 },
    ],
    total: 0,
    currency: "EUR",
    address: { street: "12 Analytical Row", city: "London", zip: "N1 9GU", country: "GB" },
    attempts: 0,
    note: "leave at the door; ring twice",
    tags: ["priority", "gift", "fragile"],
    lastStep: "",
  });

  function orderFoundry() {
    const foundry = createFoundry<Bag>(name, { properties: initialProperties() });
    for (let index = 0; index < steps; index++) {
      foundry.withOperation(`step-${index}`, (input: number | undefined, f) => {
        f.properties.total = (f.properties.total as number) + 1;
        f.properties.lastStep = `step-${index}`;
        return (input ?? 0) + 1;
      });
    }
    return foundry;
  }

  const keyOptions = (instanceId: string) => ({ instanceId, workflowKey: `${name}-v1` });

  // The snapshots a real run saves, captured once: the provider-only and raw sides write exactly these.
  async function captureSnapshots(): Promise<WorkflowExecutionSnapshot[]> {
    const memory = new MemoryPersistenceProvider();
    const snapshots: WorkflowExecutionSnapshot[] = [];
    const recording = {
      capabilities: memory.capabilities,
      save: (snapshot: WorkflowExecutionSnapshot) => (snapshots.push(snapshot), memory.save(snapshot)),
      tryLoad: (instance: string, workflow: string) => memory.tryLoad(instance, workflow),
      delete: (instance: string, workflow: string) => memory.delete(instance, workflow),
    };
    await usePersistence(orderFoundry(), recording, keyOptions("bench-captured")).forge();
    return snapshots;
  }
  return { orderFoundry, keyOptions, captureSnapshots };
}
