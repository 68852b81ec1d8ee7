// A value that travels through the middleware chain and tells the runner more than "this is the
// output". Branded with a registry symbol so that a second copy of the package understands it.

const restoreDataBrand = Symbol.for("workflowforge.restoreData");

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
