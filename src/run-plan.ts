import { Annotations } from "./annotations.js";
import { MiddlewareError } from "./errors.js";
import { describe } from "./internal/validate.js";
import type { InstanceIdentity, ResumePoint, WorkflowInfo } from "./types.js";

/** How a run begins, as its middleware's `start` hooks decided: from operation 0, further on, or by compensating. */
export type StartPlan =
  | { readonly kind: "forward"; readonly from: number; readonly point: ResumePoint }
  | { readonly kind: "compensate"; readonly pending: number; readonly error: Error; readonly restoreData: Readonly<Record<number, unknown>> };

const fromTheStart: StartPlan = { kind: "forward", from: 0, point: {} };

/**
 * What the `start` hooks of a run may settle before operation 0: its identity, where it resumes,
 * and its annotations. Each decision is taken once, and only while the hooks run.
 */
export class RunPlan {
  readonly annotations: Annotations;
  identity: InstanceIdentity;
  plan: StartPlan = fromTheStart;
  #open = false;
  #identitySet = false;
  readonly #workflow: WorkflowInfo;

  constructor(workflow: WorkflowInfo, executionId: string) {
    this.#workflow = workflow;
    this.identity = { instanceId: executionId, workflowKey: workflow.id };
    this.annotations = new Annotations(workflow.name);
  }

  /** The `start` hooks run between `open()` and `close()`. */
  open(): void {
    this.#open = true;
  }

  close(): void {
    this.#open = false;
  }

  setIdentity(identity: InstanceIdentity): void {
    this.#assertOpen("setIdentity(identity)");
    if (this.#identitySet) this.#misuse("setIdentity(identity) was called twice: one extension owns a run's identity");
    const what = "run.setIdentity(identity)";
    if (typeof identity !== "object" || identity === null) throw new TypeError(`${what}: identity must be { instanceId, workflowKey }`);
    for (const key of ["instanceId", "workflowKey"] as const) {
      if (typeof identity[key] !== "string") throw new TypeError(`${what}: identity.${key} must be a string, got ${describe(identity[key])}`);
    }
    this.identity = { instanceId: identity.instanceId, workflowKey: identity.workflowKey };
    this.#identitySet = true;
  }

  resumeAt(index: number, point: ResumePoint = {}): void {
    this.#assertUndecided("resumeAt(index, point)");
    const count = this.#workflow.operations.length;
    if (!Number.isInteger(index) || index < 0 || index > count) {
      throw new TypeError(`run.resumeAt(index, point): index must be an integer from 0 to ${count}, got ${String(index)}`);
    }
    requireOptionalObject(point, "run.resumeAt(index, point): point");
    requireOptionalObject(point.restoreData, "run.resumeAt(index, point): point.restoreData");
    this.plan = { kind: "forward", from: index, point };
  }

  resumeCompensation(pending: number, error: Error, restoreData: Readonly<Record<number, unknown>> = {}): void {
    this.#assertUndecided("resumeCompensation(pending, error)");
    const count = this.#workflow.operations.length;
    if (!Number.isInteger(pending) || pending < 0 || pending > count) {
      throw new TypeError(`run.resumeCompensation(pending, error): pending must be an integer from 0 to ${count}, got ${String(pending)}`);
    }
    requireOptionalObject(restoreData, "run.resumeCompensation(pending, error, restoreData): restoreData");
    this.plan = { kind: "compensate", pending, error, restoreData };
  }

  #assertUndecided(what: string): void {
    this.#assertOpen(what);
    if (this.plan !== fromTheStart) this.#misuse(`${what}: where this run resumes was decided already`);
  }

  #assertOpen(what: string): void {
    if (!this.#open) this.#misuse(`${what} may only be called from a middleware's start hook, before operation 0`);
  }

  #misuse(message: string): never {
    throw new MiddlewareError({ workflowName: this.#workflow.name }, `run.${message}`);
  }
}

// Refused at the call: the run reads them only once the hooks are done, far from the mistake.
function requireOptionalObject(value: unknown, what: string): void {
  if (value !== undefined && (typeof value !== "object" || value === null)) throw new TypeError(`${what} must be an object, got ${describe(value)}`);
}
