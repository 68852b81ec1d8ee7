/**
 * Why the CLI stopped. `USAGE` is the caller's mistake (exit 2, with a hint to read the help);
 * the others concern the store or its contents (exit 1).
 */
export type CliErrorCode = "USAGE" | "STORE" | "TIMEOUT" | "MISSING_DRIVER" | "NOT_FOUND" | "REFUSED";

export interface CliErrorOptions {
  readonly cause?: unknown;
  /** The command whose help the usage hint points at. */
  readonly command?: string | undefined;
}

/** A failure the CLI reports as one line on stderr, without a stack trace. */
export class CliError extends Error {
  readonly code: CliErrorCode;
  readonly command: string | undefined;

  constructor(code: CliErrorCode, message: string, options: CliErrorOptions = {}) {
    super(message, "cause" in options ? { cause: options.cause } : undefined);
    this.name = "CliError";
    this.code = code;
    this.command = options.command;
  }

  /** 2 for bad arguments, as most command-line tools do; 1 for everything else. */
  get exitCode(): 1 | 2 {
    return this.code === "USAGE" ? 2 : 1;
  }
}

/** A usage error: bad or missing arguments. */
export function usageError(message: string, command?: string): CliError {
  return new CliError("USAGE", message, { command });
}

/**
 * The message of a driver or system error, made readable: Node reports a refused connection to a
 * host with several addresses as an AggregateError whose own message is empty.
 */
export function describeCause(error: unknown): string {
  if (error instanceof AggregateError && error.message === "") {
    return error.errors.map(describeCause).join("; ") || "connection failed";
  }
  if (error instanceof Error) {
    const code = (error as { code?: unknown }).code;
    if (error.message !== "") return error.message;
    return typeof code === "string" ? code : error.name;
  }
  return String(error);
}
