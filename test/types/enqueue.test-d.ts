import { describe, expectTypeOf, it } from "vitest";
import { createWorkflow } from "../../src/index.js";
import { MemoryPersistenceProvider, createRecoveryCoordinator, type EnqueueOptions } from "../../src/persistence/index.js";

interface Invoice {
  amount: number;
  note?: string;
}

const invoice = createWorkflow<Invoice>("Invoice")
  .withOperation("charge", (_input, foundry) => foundry.properties.amount.toFixed(2))
  .build();
const coordinator = createRecoveryCoordinator({ provider: new MemoryPersistenceProvider(), resolveWorkflow: () => invoice });

describe("coordinator.enqueue(workflow, options)", () => {
  it("types the stored properties by the workflow's P, as the run reads them", () => {
    void coordinator.enqueue(invoice, { instanceId: "invoice-1", properties: { amount: 120 } });
    // @ts-expect-error a misspelt field
    void coordinator.enqueue(invoice, { instanceId: "invoice-2", properties: { amont: 120 } });
    // @ts-expect-error amount is required by the workflow's properties
    void coordinator.enqueue(invoice, { instanceId: "invoice-3" });
    // @ts-expect-error amount must be a number
    void coordinator.enqueue(invoice, { instanceId: "invoice-4", properties: { amount: "120" } });
  });

  it("takes a workflow from a registry of typed workflows, and an explicit undefined where properties are optional", () => {
    const preferences = createWorkflow<{ theme?: string }>("Preferences").withOperation("apply", () => "applied").build();
    const registry = { invoice, preferences };
    const pick = (name: keyof typeof registry) => registry[name];
    void coordinator.enqueue(pick("invoice"), { instanceId: "either-1", properties: { amount: 1 } });
    const maybe = undefined as Record<string, unknown> | undefined;
    void coordinator.enqueue(createWorkflow("Report").build(), { instanceId: "report-3", properties: maybe });
  });

  it("leaves properties optional when every field is, and for an untyped workflow", () => {
    const untyped = createWorkflow("Report").withOperation("render", () => "done").build();
    void coordinator.enqueue(untyped, { instanceId: "report-1" });
    void coordinator.enqueue(untyped, { instanceId: "report-2", properties: { anything: true } });
    expectTypeOf<{ instanceId: string }>().toMatchTypeOf<EnqueueOptions<{ note?: string }>>();
    expectTypeOf<{ instanceId: string }>().toMatchTypeOf<EnqueueOptions>();
  });
});
