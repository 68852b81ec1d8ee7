import { assertOperation } from "./foundry.js";
import { requireName } from "./internal/validate.js";
import { delegate } from "./operations/delegate.js";
import type { ForgeFunction, Operation, Properties, RestoreFunction, WorkflowInfo } from "./types.js";
import type { RestoreDataResult } from "./outcome.js";

/** An immutable, named, versioned list of operations. Run it with a smith. */
export interface Workflow<P extends object = Properties> extends WorkflowInfo {
  readonly operations: readonly Operation<any, any, P>[];
}

export interface WorkflowBuilder<P extends object = Properties> {
  withVersion(version: string): WorkflowBuilder<P>;
  addOperation(operation: Operation<any, any, P>): WorkflowBuilder<P>;
  /** restore gets a `withRestoreData` result's `data`. */
  withOperation<TInput = any, TOutput = any, TData = any>(name: string, forge: ForgeFunction<TInput, RestoreDataResult<TOutput, TData>, P>, restore?: RestoreFunction<TData, P>): WorkflowBuilder<P>;
  withOperation<TInput = any, TOutput = any>(name: string, forge: ForgeFunction<TInput, TOutput, P>, restore?: RestoreFunction<TOutput, P>): WorkflowBuilder<P>;
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
    withOperation(operationName: string, forge: ForgeFunction<any, any, P>, restore?: RestoreFunction<any, P>) {
      return builder.addOperation(delegate(requireName(operationName, `createWorkflow("${name}").withOperation(name)`), forge, restore));
    },
    build() {
      if (operations.length === 0) throw new TypeError(`createWorkflow("${name}").build(): a workflow needs at least one operation`);
      return Object.freeze({ id: workflowId(name, version), name, version, operations: Object.freeze([...operations]) });
    },
  };
  return builder;
}
