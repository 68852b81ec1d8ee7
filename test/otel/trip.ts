import { createWorkflow } from "../../src/index.js";
import { MemoryPersistenceProvider, type WorkflowExecutionSnapshot } from "../../src/persistence/index.js";

/** Flight and hotel, then a car that fails: both are restored; `failRestoreOf` names one whose restore throws. */
export function bookTrip(failRestoreOf?: string) {
  const restore = (name: string) => () => {
    if (name === failRestoreOf) throw new Error(`cannot undo ${name}`);
  };
  return createWorkflow("BookTrip")
    .withVersion("1")
    .withOperation("flight", () => "F1", restore("flight"))
    .withOperation("hotel", () => "H1", restore("hotel"))
    .withOperation("car", () => {
      throw new Error("no cars left");
    })
    .build();
}

/**
 * A memory store whose checkpoint after the first restore ("hotel") fails once: the first run of
 * {@link bookTrip} stops half-way through its compensation, and the next run finishes it.
 */
export function compensationStoppedOnce(): MemoryPersistenceProvider {
  const provider = new MemoryPersistenceProvider();
  const save = provider.save.bind(provider);
  let refused = false;
  provider.save = (snapshot: WorkflowExecutionSnapshot) => {
    if (!refused && snapshot.status === "compensating" && snapshot.nextOperationIndex === 1) {
      refused = true;
      throw new Error("store unavailable");
    }
    save(snapshot);
  };
  return provider;
}
