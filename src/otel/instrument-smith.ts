import type { Smith } from "../smith.js";
import type { WorkflowMiddleware } from "../types.js";
import { endOwnedRun, expectOwnedRun, instrumentFoundry, isInstrumented } from "./instrument-foundry.js";
import type { RunOwner } from "./run-trace.js";
import type { Telemetry } from "./telemetry.js";

/**
 * Adds the workflow middleware that traces every run `smith` starts: the foundry it runs on is
 * instrumented on its first run (once; an already instrumented foundry is left as it is), and the
 * run's span ends with the smith's outcome, after compensation.
 */
export function instrumentSmith(smith: Smith, telemetry: Telemetry): void {
  const layer: WorkflowMiddleware = async (context, next) => {
    const { foundry } = context;
    // A running foundry refuses new middleware; the engine refuses the run itself just after.
    if (!isInstrumented(foundry) && !foundry.isRunning) instrumentFoundry(foundry, telemetry);
    const owner: RunOwner = { workflow: context.workflow, trace: undefined };
    const release = expectOwnedRun(foundry, owner);
    try {
      const output = await next();
      endOwnedRun(owner, { ok: true });
      return output;
    } catch (error) {
      endOwnedRun(owner, { ok: false, error });
      throw error;
    } finally {
      release();
    }
  };
  smith.use(layer);
}
