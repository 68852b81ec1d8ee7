import { format } from "node:util";
import type { Output } from "./commands.js";

const routed = ["log", "info", "debug"] as const;

/**
 * Runs `work` with console.log, console.info and console.debug writing to `stderr`, and puts them
 * back after. A --provider module, or a driver it loads, may log while it loads and while the
 * command runs: stdout carries the command's output alone, which `--json` promises to scripts.
 */
export async function withConsoleOnStderr<T>(stderr: Output, work: () => Promise<T>): Promise<T> {
  // The descriptors, not the methods: put back as they were, bound or not.
  const saved = routed.map((name) => [name, Object.getOwnPropertyDescriptor(console, name)] as const);
  const toStderr = (...args: unknown[]): void => void stderr.write(`${format(...args)}\n`);
  for (const name of routed) console[name] = toStderr;
  try {
    return await work();
  } finally {
    for (const [name, descriptor] of saved) {
      if (descriptor === undefined) delete console[name];
      else Object.defineProperty(console, name, descriptor);
    }
  }
}
