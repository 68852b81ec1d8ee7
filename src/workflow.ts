import type { Foundry } from "./foundry.js";
import { assertOperation } from "./foundry.js";
import { requireName } from "./internal/validate.js";
import { delegate } from "./operations/delegate.js";
import type { MaybePromise, Operation, Properties, WorkflowInfo } from "./types.js";
import type { RestoreDataOf } from "./outcome.js";

/** An immutable, named, versioned list of operations. Run it with a smith. */
export interface Workflow<P extends object = Properties> extends WorkflowInfo {
  readonly operations: readonly Operation<any, any, P>[];
}

export interface WorkflowBuilder<P extends object = Properties> {
  withVersion(version: string): WorkflowBuilder<P>;
  addOperation(operation: Operation<any, any, P>): WorkflowBuilder<P>;
  withOperation<TInput = any, TOutput = any>(
    name: string,
    forge: (input: TInput, foundry: Foundry<P>, signal: AbortSignal) => MaybePromise<TOutput>,
    restore?: (output: RestoreDataOf<TOutput>, foundry: Foundry<P>, signal: AbortSignal) => MaybePromise<unknown>,
  ): WorkflowBuilder<P>;
  /** Throws `TypeError` when no operation was added. */
  build(): Workflow<P>;
}

/** The id persistence uses as the default workflow key: stable for the same name and version. */
export function workflowId(name: string, version: string | undefined): string {
  return version === undefined ? name : `${name}@${version}`;
}

/** Starts a workflow definition. */
export function createWorkflow<P extends object = Properties>(name: string): WorkflowBuilder<P> {
  requireName(name, "createWorkflow(name)");
  let version: string | undefined;
  const operations: Operation<any, any, P>[] = [];
  const builder: WorkflowBuilder<P> = {
    withVersion(value) {
      version = requireName(value, `createWorkflow("${name}").withVersion(version)`);
      return builder;
    },
    addOperation(operation) {
      assertOperation(operation, `createWorkflow("${name}").addOperation(operation)`);
      operations.push(operation);
      return builder;
    },
    withOperation(operationName, forge, restore) {
      return builder.addOperation(delegate(operationName, forge, restore));
    },
    build() {
      if (operations.length === 0) throw new TypeError(`createWorkflow("${name}").build(): a workflow needs at least one operation`);
      return Object.freeze({ id: workflowId(name, version), name, version, operations: Object.freeze([...operations]) });
    },
  };
  return builder;
}
