import { isWorkflowForgeError } from "../errors.js";
import type { SmithEvents } from "../events.js";
import type { Smith } from "../smith.js";
import type { WorkflowContext, WorkflowMiddleware } from "../types.js";
import { endOwnedRun, endTimedOutRun, expectOwnedRun, instrumentFoundry, isInstrumented } from "./instrument-foundry.js";
import type { RunOwner } from "./run-trace.js";
import type { Telemetry } from "./telemetry.js";

// A run in the smith's chain, as this layer passed it on.
interface InChain {
  readonly context: WorkflowContext<any>;
  readonly owner: RunOwner;
  readonly release: () => void;
}

/**
 * Adds the workflow middleware that traces every run `smith` starts: the foundry it runs on is
 * instrumented on its first run (once; an already instrumented foundry is left as it is), and the
 * run's span ends with the smith's outcome, after compensation (at once for its timeout).
 */
export function instrumentSmith(smith: Smith, telemetry: Telemetry): void {
  const inChain = new Set<InChain>();
  // The smith's timeout rejects without waiting for its chain, this layer included.
  smith.on("workflowFailed", (event) => timedOut(inChain, event));
  const layer: WorkflowMiddleware = async (context, next) => {
    const { foundry } = context;
    // A running foundry refuses new middleware; the engine refuses the run itself just after.
    if (!isInstrumented(foundry) && !foundry.isRunning) instrumentFoundry(foundry, telemetry);
    const owner: RunOwner = { workflow: context.workflow, trace: undefined };
    const entry: InChain = { context, owner, release: expectOwnedRun(foundry, owner) };
    inChain.add(entry);
    try {
      const output = await next();
      endOwnedRun(owner, { ok: true });
      return output;
    } catch (error) {
      endOwnedRun(owner, { ok: false, error });
      throw error;
    } finally {
      inChain.delete(entry);
      entry.release();
    }
  };
  smith.use(layer);
}

// The smith rejected with its timeout: which run in its chain it gave up on. The timeout aborted
// that run's signal with this very error, unless the caller's signal had aborted it first (then it
// is the one run of that foundry and workflow whose signal aborted). A nested run of this smith,
// inside one of the timed-out run's operations, runs on another foundry.
function timedOut(inChain: Set<InChain>, event: SmithEvents["workflowFailed"]): void {
  const { error } = event;
  if (!isWorkflowForgeError(error) || error.code !== "WORKFLOW_TIMEOUT") return;
  const candidates = [...inChain].filter(({ context }) => context.signal.aborted && context.foundry.executionId === event.executionId && context.workflow.name === event.workflowName);
  const exact = candidates.filter(({ context }) => context.signal.reason === error);
  for (const entry of exact.length > 0 ? exact : candidates.length === 1 ? candidates : []) {
    inChain.delete(entry);
    // A run that has not started yet (a layer inside holds it) is no longer the smith's: it starts aborted, and ends with its own outcome.
    entry.release();
    endTimedOutRun(entry.owner, error);
  }
}
