import { isWorkflowForgeError, messageOf } from "../errors.js";
import type { StoredError, StoredErrorCause } from "./errors.js";

/** The longest stack a snapshot keeps, in characters; a longer one is cut and marked. */
export const maxStoredStack = 4_000;
/** How many links of an error's `cause` chain a snapshot keeps. */
export const maxStoredCauses = 5;
/** The longest message of a cause a snapshot keeps, in characters. */
export const maxCauseMessage = 1_000;

/**
 * What a snapshot records of a failure: the operation's own error rather than our wrapper, and the
 * operation the error names when it names one; with the error's stack and `cause` chain, bounded,
 * so that a failure record stays small whatever was thrown.
 */
export function storedError(error: unknown, operationIndex: number, operationName: string): StoredError {
  // By code, not instanceof: the wrapper may come from another copy of the package.
  const root = isWorkflowForgeError(error) && error.code === "OPERATION_FAILED" ? error.cause : error;
  const name = root instanceof Error ? root.name : typeof root;
  const located = isWorkflowForgeError(error) && error.operationIndex !== undefined;
  const stored: StoredError = {
    name,
    message: messageOf(root),
    operationIndex: located ? error.operationIndex : operationIndex,
    operationName: located ? (error.operationName ?? operationName) : operationName,
  };
  const stack = root instanceof Error && typeof root.stack === "string" ? bounded(root.stack, maxStoredStack) : undefined;
  const cause = causeChain(root);
  return { ...stored, ...(stack === undefined ? {} : { stack }), ...(cause.length === 0 ? {} : { cause }) };
}

// `text` cut to `max` characters, the cut marked with how long it was.
function bounded(text: string, max: number): string {
  if (text.length <= max) return text;
  const marker = `\n… (${text.length} characters, cut)`;
  return text.slice(0, max - marker.length) + marker;
}

// The causes below `error`, outermost first; a cycle or a longer chain ends at the bound.
function causeChain(error: unknown): StoredErrorCause[] {
  const chain: StoredErrorCause[] = [];
  let current = error;
  while (chain.length < maxStoredCauses && typeof current === "object" && current !== null && "cause" in current) {
    let next: unknown;
    try {
      next = current.cause;
    } catch {
      break;
    }
    if (next === undefined) break;
    chain.push({ name: next instanceof Error ? String(next.name) : typeof next, message: bounded(safeMessage(next), maxCauseMessage) });
    current = next;
  }
  return chain;
}

// A cause may be anything a user threw: its message must not fail the failure record.
function safeMessage(value: unknown): string {
  try {
    return messageOf(value);
  } catch {
    return "(a value whose message could not be read)";
  }
}
