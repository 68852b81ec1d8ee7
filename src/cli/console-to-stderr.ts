import { format, inspect, type InspectOptions } from "node:util";
import type { Output } from "./commands.js";

// console.dir and console.dirxml write to stdout themselves, not through console.log.
const routed = ["log", "info", "debug", "dir", "dirxml"] as const;

/**
 * Runs `work` with console.log, info, debug, dir and dirxml writing to `stderr`, and puts them
 * back after. A --provider module, or a driver it loads, may log while it loads and while the
 * command runs: stdout carries the command's output alone, which `--json` promises to scripts.
 */
export async function withConsoleOnStderr<T>(stderr: Output, work: () => Promise<T>): Promise<T> {
  // The descriptors, not the methods: put back as they were, bound or not.
  const saved = routed.map((name) => [name, Object.getOwnPropertyDescriptor(console, name)] as const);
  const toStderr = (...args: unknown[]): void => void stderr.write(`${format(...args)}\n`);
  for (const name of routed) console[name] = toStderr;
  console.dir = (item: unknown, options?: InspectOptions): void => void stderr.write(`${inspect(item, options)}\n`);
  try {
    return await work();
  } finally {
    for (const [name, descriptor] of saved) {
      if (descriptor === undefined) delete console[name];
      else Object.defineProperty(console, name, descriptor);
    }
  }
}
