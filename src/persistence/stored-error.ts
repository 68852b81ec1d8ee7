import { isWorkflowForgeError, messageOf } from "../errors.js";
import { bounded, isError, unreadableMessage } from "../internal/thrown.js";
import type { StoredError, StoredErrorCause } from "./errors.js";

/** The longest stack a snapshot keeps, in characters; a longer one is cut and marked. */
export const maxStoredStack = 4_000;
/** How many links of an error's `cause` chain a snapshot keeps. */
export const maxStoredCauses = 5;
/** The longest message of a cause a snapshot keeps, in characters. */
export const maxCauseMessage = 1_000;
/**
 * The longest message (a gateway's HTML error page...) and name a snapshot keeps of the error
 * itself, in characters: longer, the failure record could outgrow the store's limit, and a
 * compensation whose first save fails restores nothing.
 */
export const maxStoredMessage = 4_000;
const maxStoredName = 1_000;

/**
 * What a snapshot records of a failure: the operation's own error rather than our wrapper, and the
 * operation the error names when it names one; with the error's stack and `cause` chain, bounded,
 * so that a failure record stays small whatever was thrown.
 */
export function storedError(error: unknown, operationIndex: number, operationName: string): StoredError {
  // By code, not instanceof: the wrapper may come from another copy of the package.
  const root = isWorkflowForgeError(error) && error.code === "OPERATION_FAILED" ? error.cause : error;
  const located = isWorkflowForgeError(error) && error.operationIndex !== undefined;
  const stored: StoredError = {
    name: nameOf(root),
    message: bounded(safeMessage(root), maxStoredMessage),
    operationIndex: located ? error.operationIndex : operationIndex,
    operationName: located ? (error.operationName ?? operationName) : operationName,
  };
  const stack = stackOf(root);
  const cause = causeChain(root);
  return { ...stored, ...(stack === undefined ? {} : { stack }), ...(cause.length === 0 ? {} : { cause }) };
}

// The causes below `error`, outermost first; a cycle or a longer chain ends at the bound.
function causeChain(error: unknown): StoredErrorCause[] {
  const chain: StoredErrorCause[] = [];
  let current = error;
  while (chain.length < maxStoredCauses && typeof current === "object" && current !== null) {
    let next: unknown;
    try {
      next = "cause" in current ? current.cause : undefined;
    } catch {
      break;
    }
    if (next === undefined) break;
    chain.push({ name: nameOf(next), message: bounded(safeMessage(next), maxCauseMessage) });
    current = next;
  }
  return chain;
}

// What a user threw may carry a name or message of any type, or a getter that throws: a record
// storing one that is not a string could never be loaded again (the load-time check rejects it),
// and a throw here would replace the operation's own error.
function nameOf(value: unknown): string {
  return isError(value) ? bounded(safeString(() => value.name, "Error"), maxStoredName) : typeof value;
}

function safeMessage(value: unknown): string {
  return safeString(() => messageOf(value), unreadableMessage);
}

function stackOf(value: unknown): string | undefined {
  if (!isError(value)) return undefined;
  try {
    return typeof value.stack === "string" ? bounded(value.stack, maxStoredStack) : undefined;
  } catch {
    return undefined;
  }
}

// `read()` as a string (a number as its digits, an object as its JSON); `fallback` when it is
// undefined, or reading or converting it throws.
function safeString(read: () => unknown, fallback: string): string {
  try {
    const value = read();
    // An Error's message may itself be anything: what messageOf returns is checked, not trusted.
    const text: unknown = value === undefined ? fallback : messageOf(value);
    return typeof text === "string" ? text : fallback;
  } catch {
    return fallback;
  }
}
