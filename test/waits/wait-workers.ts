import { spawn, type ChildProcess } from "node:child_process";
import { readFileSync } from "node:fs";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import { bundleForChild } from "../support/bundle.js";

// The parent's side of wait-child.ts: spawning workers, following what they print, reading the
// step log they share.

/** wait-child.ts, bundled once per test file. */
export const waitChild = (): string => bundleForChild(fileURLToPath(new URL("./wait-child.ts", import.meta.url)));

/** A running worker: every line it printed so far, and a promise for the first line that matches. */
export interface Worker {
  readonly process: ChildProcess;
  readonly lines: readonly string[];
  readonly stderr: () => string;
  /** Resolves with the first line (printed before or after the call) that `matches`; rejects if the worker exits first. */
  line(matches: (line: string) => boolean): Promise<string>;
  /** Resolves with how the worker ended. */
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

export function startWorker(child: string, env: Readonly<Record<string, string>>, onLine?: (line: string) => void): Worker {
  const process_ = spawn(process.execPath, [child], { env: { ...process.env, ...env }, stdio: ["pipe", "pipe", "pipe"] });
  const lines: string[] = [];
  const waiters = new Set<{ matches: (line: string) => boolean; resolve: (line: string) => void; reject: (error: Error) => void }>();
  let stderr = "";
  process_.stderr?.on("data", (chunk: Buffer) => void (stderr = (stderr + chunk.toString()).slice(-4000)));
  createInterface({ input: process_.stdout }).on("line", (line) => {
    lines.push(line);
    onLine?.(line);
    for (const waiter of waiters) {
      if (!waiter.matches(line)) continue;
      waiters.delete(waiter);
      waiter.resolve(line);
    }
  });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => process_.once("exit", (code, signal) => resolve({ code, signal })));
  void exited.then(({ code, signal }) => {
    for (const waiter of waiters) waiter.reject(new Error(`worker ${process_.pid} exited (${code ?? signal}) before printing the line awaited: ${stderr}`));
    waiters.clear();
  });
  return {
    process: process_,
    lines,
    stderr: () => stderr,
    exited,
    line: (matches) => {
      const found = lines.find(matches);
      if (found !== undefined) return Promise.resolve(found);
      if (process_.exitCode !== null || process_.signalCode !== null) return Promise.reject(new Error(`worker ${process_.pid} had exited: ${stderr}`));
      return new Promise((resolve, reject) => void waiters.add({ matches, resolve, reject }));
    },
  };
}

/** How many times each instance ran reserve and charge, and every payload charge ran with, from the shared step log. */
export function stepLog(file: string): { reserved: Map<string, number>; charged: Map<string, unknown[]> } {
  const reserved = new Map<string, number>();
  const charged = new Map<string, unknown[]>();
  for (const line of readFileSync(file, "utf8").split("\n").filter(Boolean)) {
    const [step, instance = "", ...payload] = line.split(" ");
    if (step === "R") reserved.set(instance, (reserved.get(instance) ?? 0) + 1);
    else charged.set(instance, [...(charged.get(instance) ?? []), JSON.parse(payload.join(" ")) as unknown]);
  }
  return { reserved, charged };
}

/** Resolves once `total` distinct instances were printed as charged by any of the workers fed through `charged`. */
export function chargeCounter(total: number): { charged: (line: string) => void; all: Promise<void> } {
  const seen = new Set<string>();
  let done!: () => void;
  const all = new Promise<void>((resolve) => (done = resolve));
  if (total === 0) done();
  return {
    charged: (line) => {
      if (!line.startsWith("charged ")) return;
      seen.add(line.slice("charged ".length));
      if (seen.size === total) done();
    },
    all,
  };
}
