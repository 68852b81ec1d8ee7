// One worker process of the approval demo: a recovery coordinator that runs whatever is due in the
// file store, and (with `start`) a new expense that reserves the money, then waits for a manager's
// approval for up to seven days before it charges. The wait suspends the run: nothing of it stays in
// this process, which can be killed at any time.
//
//   node examples/approval-worker.mjs <store-directory> [start <expenseId>]
//
// (Run from the repository after `npm run build`; in your own project, `npm install workflowforge`.)
import { action, createFoundry, createSmith, createWorkflow, isSuspended, waitForEvent } from "workflowforge";
import { createRecoveryCoordinator, usePersistence } from "workflowforge/persistence";
import { FilePersistenceProvider } from "workflowforge/persistence/file";

const [store, command, expenseId] = process.argv.slice(2);
const provider = new FilePersistenceProvider({ directory: store });
const day = 24 * 60 * 60 * 1000;

const expense = createWorkflow("Expense")
  .withVersion("1")
  .addOperation(action("reserve-budget", (_, foundry) => console.log(`▶ reserve-budget: ${foundry.properties.amount} EUR held`)))
  .addOperation(waitForEvent("manager-approval", "approved", { timeoutMs: 7 * day }))
  .addOperation(action("pay-out", (approval, foundry) => console.log(`▶ pay-out: ${foundry.properties.amount} EUR, approved by ${approval.by}`)))
  .build();

const coordinator = createRecoveryCoordinator({
  provider,
  resolveWorkflow: (snapshot) => (snapshot.workflowName === "Expense" ? expense : undefined),
  onOutcome: (outcome) => {
    if (outcome.status === "resumed") console.log(`✓ ${outcome.instanceId} completed`);
  },
});

if (command === "start") {
  const foundry = usePersistence(createFoundry("Expense", { properties: { amount: 120 } }), provider, { instanceId: expenseId });
  try {
    await createSmith().forge(expense, foundry);
  } catch (error) {
    if (!isSuspended(error)) throw error;
    console.log(`⏸ suspended: ${expenseId} waits for "${error.waitingFor}" until ${error.wakeAt.toISOString().slice(0, 10)}; no process holds it`);
  }
}
coordinator.start({ pollIntervalMs: 200, onError: (error) => console.error("pass failed:", error) });
console.log("READY");
process.on("SIGTERM", () => void coordinator.close().then(() => process.exit(0)));
