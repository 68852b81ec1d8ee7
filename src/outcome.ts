// Values that travel through the middleware chain and tell the runner more than "this is the
// output". Branded with registry symbols so that a second copy of the package understands them.

const restoreDataBrand = Symbol.for("workflowforge.restoreData");
const skipBrand = Symbol.for("workflowforge.skip");
const compensateBrand = Symbol.for("workflowforge.resumeCompensation");

/** An operation result whose chained output and restore payload differ. */
export interface RestoreDataResult<TOutput, TData> {
  readonly [restoreDataBrand]: true;
  readonly output: TOutput;
  readonly data: TData;
}

/**
 * Return this from `forge` to pass `output` to the next operation while `restore` (and the
 * persisted snapshot) receive `data`. Used by `conditional` to remember the branch it took.
 */
export function withRestoreData<TOutput, TData>(output: TOutput, data: TData): RestoreDataResult<TOutput, TData> {
  return { [restoreDataBrand]: true, output, data };
}

function isBranded(value: unknown, brand: symbol): boolean {
  return typeof value === "object" && value !== null && (value as Record<symbol, unknown>)[brand] === true;
}

/** The output `forge` chains to the next operation. */
export function outputOf(result: unknown): unknown {
  return isBranded(result, restoreDataBrand) ? (result as RestoreDataResult<unknown, unknown>).output : result;
}

/** What `restore` (and the snapshot) receive for what `forge` returned. */
export function restoreDataOf(result: unknown): unknown {
  return isBranded(result, restoreDataBrand) ? (result as RestoreDataResult<unknown, unknown>).data : result;
}

/** Returned by a middleware: the operation completed in an earlier run and must not run again. */
export interface SkipOperation {
  readonly [skipBrand]: true;
  readonly output: unknown;
  readonly data: unknown;
}

export function skipOperation(output: unknown, data: unknown): SkipOperation {
  return { [skipBrand]: true, output, data };
}

export function isSkip(value: unknown): value is SkipOperation {
  return isBranded(value, skipBrand);
}

/**
 * Returned by a middleware for the first operation: an earlier run was compensating when it
 * stopped; finish restoring operations `[0, pending)` instead of running forward.
 */
export interface ResumeCompensation {
  readonly [compensateBrand]: true;
  readonly pending: number;
  readonly restoreData: Readonly<Record<number, unknown>>;
  readonly error: Error;
}

export function resumeCompensation(
  pending: number,
  restoreData: Readonly<Record<number, unknown>>,
  error: Error,
): ResumeCompensation {
  return { [compensateBrand]: true, pending, restoreData, error };
}

export function isResumeCompensation(value: unknown): value is ResumeCompensation {
  return isBranded(value, compensateBrand);
}
