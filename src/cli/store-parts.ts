import type { Duration } from "./duration.js";
import { usageError } from "./errors.js";

/** The connection string with its password replaced by `***`, for messages. */
export function redact(url: string): string {
  return url.replace(/(\/\/[^/@:]*:)[^/@]*@/, "$1***@").replace(/([?&\s]password=)[^&\s]*/gi, "$1***");
}

/** The providers validate their options with a TypeError naming the option; here those came from `flags`. */
export function construct<T>(flags: string, create: () => T): T {
  try {
    return create();
  } catch (error) {
    if (error instanceof TypeError) throw usageError(`invalid ${flags}: ${error.message}`);
    throw error;
  }
}

/** The message for a server that accepted no connection, or never answered, within the timeout. */
export function noAnswer(server: string, kind: string, timeout: Duration): string {
  return `cannot reach ${server}: no answer within ${timeout.text}; check that a ${kind} server listens at that address and is reachable, or raise --timeout`;
}
