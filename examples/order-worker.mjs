// One worker process: runs order `orderId` through a five-step workflow, checkpointing each
// completed step in a file store. Started again after a crash with the same store and orderId, it
// resumes: the steps checkpointed before the crash are skipped, the rest run.
//
//   node examples/order-worker.mjs <store-directory> <orderId> [paymentDelayMs]
//
// (Run from the repository after `npm run build`; in your own project, `npm install workflowforge`.)
import { createFoundry, createSmith, createWorkflow } from "workflowforge";
import { usePersistence } from "workflowforge/persistence";
import { FilePersistenceProvider } from "workflowforge/persistence/file";

const [store, orderId, paymentDelayMs = "100"] = process.argv.slice(2);
const pause = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

// A stand-in for a payment service that charges once per idempotency key. The demo passes a very
// long delay on the first run, so that it can kill this process while a charge is in flight.
const payments = {
  async charge(amount, idempotencyKey) {
    console.log(`  charging ${amount} with idempotency key ${idempotencyKey}`);
    await pause(Number(paymentDelayMs));
    return `pay:${idempotencyKey}`;
  },
};

const processOrder = createWorkflow("ProcessOrder")
  .withVersion("1")
  .withOperation("validate-order", async (_, foundry) => {
    await pause(100);
    foundry.properties.total = 59.9;
    return { orderId: foundry.properties.orderId, total: foundry.properties.total };
  })
  .withOperation(
    "reserve-stock",
    async (order, foundry) => {
      await pause(100);
      foundry.properties.reservation = `R-${orderId}`;
      return { ...order, reservation: foundry.properties.reservation };
    },
    async (order) => console.log(`↩ release ${order.reservation}`),
  )
  .withOperation(
    "charge-payment",
    async (order, foundry) => {
      // Operations run at least once: after a crash this step may run again. Its idempotency key
      // is the same on every run of this step of this order, so the customer is charged once.
      foundry.properties.payment = await payments.charge(order.total, foundry.idempotencyKey());
      return { ...order, paid: order.total };
    },
    async (order) => console.log(`↩ refund ${order.paid}`),
  )
  .withOperation("create-shipment", async (order, foundry) => {
    await pause(100);
    foundry.properties.shipment = `S-${orderId}`;
    return { ...order, shipment: foundry.properties.shipment };
  })
  .withOperation("send-confirmation", async (order) => {
    await pause(100);
    return { ...order, emailed: true };
  })
  .build();

// Steps are counted from 1 in what this prints; the events' `index` counts from 0.
const steps = processOrder.operations.length;
const step = (index) => `step ${index + 1}/${steps}`;

const foundry = createFoundry("OrderService", { properties: { orderId } });
foundry.on("operationStarted", (e) => console.log(`▶ ${step(e.index)} ${e.operationName}`));
foundry.on("operationCompleted", (e) => console.log(`✓ ${step(e.index)} ${e.operationName}`));
foundry.on("operationSkipped", (e) => console.log(`↷ ${step(e.index)} ${e.operationName} (checkpointed before the crash: skipped)`));
foundry.on("snapshotRestored", (e) => console.log(`⟳ checkpoint restored: ${e.nextOperationIndex} of ${steps} steps done, resuming at step ${e.nextOperationIndex + 1}`));
foundry.on("snapshotSaved", (e) => console.log(`  💾 checkpoint saved after step ${e.nextOperationIndex}`));

// instanceId names this order in the store: it is what lets a new process find and resume it.
usePersistence(foundry, new FilePersistenceProvider({ directory: store }), { instanceId: orderId, workflowKey: "ProcessOrder-v1" });
// The smith runs the workflow and, if a step fails, compensates the completed ones (release, refund).
const output = await createSmith().forge(processOrder, foundry);
console.log(`RESULT ${JSON.stringify({ output, properties: foundry.properties })}`);
