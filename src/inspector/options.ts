import { isIP } from "node:net";
import { usageError } from "../cli/errors.js";

/** What `workflowforge ui` serves, and to whom. */
export interface UiOptions {
  /** The TCP port; 0 picks a free one. @default 4380 */
  readonly port: number;
  /** The address to listen on. @default "127.0.0.1" */
  readonly host: string;
  /** Delete and retry are carried out, not refused with 403. @default false */
  readonly allowActions: boolean;
  /**
   * The dead-letter threshold: a failed (or compensating) record whose attempts reached it. The
   * same number as the coordinator's `retry.attempts`. @default 3
   */
  readonly maxAttempts: number;
}

/** Not 4317/4318 (OTLP's), nor 3000/8080 and the other ports development servers usually hold. */
export const defaultPort = 4380;
export const defaultHost = "127.0.0.1";

/** The flags of `ui`, merged into the CLI's parseArgs table. */
export const uiFlags = {
  port: { type: "string" },
  host: { type: "string" },
  "allow-actions": { type: "boolean" },
  "unsafe-expose": { type: "boolean" },
  "max-attempts": { type: "string" },
} as const;

interface UiValues {
  readonly port?: string | undefined;
  readonly host?: string | undefined;
  readonly "allow-actions"?: boolean | undefined;
  readonly "unsafe-expose"?: boolean | undefined;
  readonly "max-attempts"?: string | undefined;
}

/** True for an address only this machine can reach: 127.0.0.0/8, ::1 and "localhost". */
export function isLoopback(host: string): boolean {
  if (host === "localhost" || host === "::1" || host === "[::1]") return true;
  return isIP(host) === 4 && host.startsWith("127.");
}

function integer(text: string, flag: string, min: number, max: number): number {
  const value = /^\s*\d{1,6}\s*$/.test(text) ? Number(text) : Number.NaN;
  if (!(value >= min && value <= max)) throw usageError(`--${flag} "${text}" is not a whole number from ${min} to ${max}`, "ui");
  return value;
}

/**
 * The `ui` options from the parsed flags. A host other than a loopback address is refused unless
 * `--unsafe-expose` is given: the page shows every stored property to whoever can reach it.
 */
export function uiOptions(values: UiValues): UiOptions {
  const port = values.port === undefined ? defaultPort : integer(values.port, "port", 0, 65_535);
  const host = values.host ?? defaultHost;
  if (host === "" || (isIP(host) === 0 && host !== "localhost")) throw usageError(`--host "${host}" is not an IP address (or localhost)`, "ui");
  if (!isLoopback(host) && values["unsafe-expose"] !== true) {
    throw usageError(`--host ${host} is not a loopback address: the page shows every stored property to whoever reaches it; pass --unsafe-expose as well to listen there anyway`, "ui");
  }
  const maxAttempts = values["max-attempts"] === undefined ? 3 : integer(values["max-attempts"], "max-attempts", 1, 1_000_000);
  return { port, host, allowActions: values["allow-actions"] === true, maxAttempts };
}
