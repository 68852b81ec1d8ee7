// One process of the demo: runs (or resumes) one order through the workflow and prints what happens.
import { createFoundry, createSmith, createWorkflow } from "workflowforge";
import { usePersistence } from "workflowforge/persistence";
import { FilePersistenceProvider } from "workflowforge/persistence/file";

const [store, orderId] = process.argv.slice(2);
const pause = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

const processOrder = createWorkflow("ProcessOrder")
  .withVersion("1")
  .withOperation("validate-order", async (_, foundry) => {
    await pause(150);
    foundry.properties.total = 59.9;
    return { orderId: foundry.properties.orderId, total: foundry.properties.total };
  })
  .withOperation(
    "reserve-stock",
    async (order, foundry) => {
      await pause(150);
      foundry.properties.reservation = `R-${orderId}`;
      return { ...order, reservation: foundry.properties.reservation };
    },
    async (order) => console.log(`↩ release ${order.reservation}`),
  )
  .withOperation(
    "charge-payment",
    async (order, foundry) => {
      await pause(150);
      // The same key on every retry of this step: the payment provider charges once.
      foundry.properties.payment = `pay:${foundry.idempotencyKey()}`;
      return { ...order, paid: order.total };
    },
    async (order) => console.log(`↩ refund ${order.paid}`),
  )
  .withOperation("create-shipment", async (order, foundry) => {
    await pause(150);
    foundry.properties.shipment = `S-${orderId}`;
    return { ...order, shipment: foundry.properties.shipment };
  })
  .withOperation("send-confirmation", async (order) => {
    await pause(150);
    return { ...order, emailed: true };
  })
  .build();

const foundry = createFoundry("OrderService", { properties: { orderId } });
foundry.on("operationStarted", (e) => console.log(`▶ ${e.operationName}`));
foundry.on("operationCompleted", (e) => console.log(`✓ ${e.operationName}`));
foundry.on("operationSkipped", (e) => console.log(`↷ ${e.operationName} (completed before the crash, skipped)`));
foundry.on("snapshotRestored", (e) => console.log(`⟳ restored snapshot r${e.revision}: resuming at step ${e.nextOperationIndex}`));
foundry.on("snapshotSaved", (e) => {
  const name = processOrder.operations[e.nextOperationIndex - 1]?.name;
  console.log(`  💾 checkpoint after "${name}" (revision ${e.revision})`);
});

usePersistence(foundry, new FilePersistenceProvider({ directory: store }), { instanceId: orderId, workflowKey: "ProcessOrder-v1" });
const output = await createSmith().forge(processOrder, foundry);
console.log(`RESULT ${JSON.stringify({ output, properties: foundry.properties })}`);
