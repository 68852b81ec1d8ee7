import { spawn } from "node:child_process";
import { request } from "node:http";
import { EventEmitter, once } from "node:events";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { afterAll, describe, expect, it } from "vitest";
import { openStore } from "../../src/cli/stores.js";
import { CliError } from "../../src/cli/errors.js";
import { startInspector } from "../../src/inspector/server.js";
import { action, pageToken, raw } from "./fixture.js";

const root = mkdtempSync(join(tmpdir(), "workflowforge-inspector-shutdown-"));
afterAll(() => rmSync(root, { recursive: true, force: true }));
const main = fileURLToPath(new URL("../../src/cli/main.ts", import.meta.url));
const tsx = pathToFileURL(createRequire(import.meta.url).resolve("tsx")).href;
const hour = { text: "1h", ms: 3_600_000 };

/**
 * A --provider module whose every call waits: until its signal aborts (`honours`), or forever. Its
 * closeProvider waits for the calls in flight, as a pool's end() does. With `says`, each call says
 * on stderr that it started, for a test in another process to wait on.
 */
function stalledModule(honours: boolean, says = false): string {
  const module = join(mkdtempSync(join(root, "store-")), "stalled.mjs");
  writeFileSync(
    module,
    `export const signals = [];
const inFlight = new Set();
let started;
export const firstCall = new Promise((resolve) => (started = resolve));
const stall = (signal) => {
  signals.push(signal);
  const call = new Promise((_, reject) => ${honours} && signal?.addEventListener("abort", () => reject(signal.reason), { once: true }));
  const tracked = call.catch(() => undefined).finally(() => inFlight.delete(tracked));
  inFlight.add(tracked);
  if (${says}) process.stderr.write("stalled: a call started\\n");
  started();
  return call;
};
export const createProvider = () => ({ tryLoad: (_i, _k, signal) => stall(signal), save: (_s, signal) => stall(signal), delete: (_i, _k, signal) => stall(signal) });
export const closeProvider = () => Promise.all(inFlight);
`,
  );
  return module;
}

/**
 * The inspector, with actions allowed, on a stalled store whose calls honour their signal and
 * whose deadline is a second: the module's record of calls, the store, the inspector and its token.
 */
async function actingOnStalledStore() {
  const module = stalledModule(true);
  const { firstCall, signals } = (await import(pathToFileURL(module).href)) as { firstCall: Promise<void>; signals: AbortSignal[] };
  const store = await openStore({ kind: "provider", module }, { text: "1s", ms: 1_000 });
  const inspector = await startInspector(store, { port: 0, host: "127.0.0.1", allowActions: true, maxAttempts: 3 });
  return { firstCall, signals, store, inspector, token: await pageToken(inspector.url) };
}

describe("the inspector stopping while store calls are in flight", () => {
  it("aborts the store calls of the requests in flight, so that closing the store does not wait for them", async () => {
    const module = stalledModule(true);
    const { firstCall, signals } = (await import(pathToFileURL(module).href)) as { firstCall: Promise<void>; signals: AbortSignal[] };
    const store = await openStore({ kind: "provider", module }, hour);
    const inspector = await startInspector(store, { port: 0, host: "127.0.0.1", allowActions: false, maxAttempts: 3 });
    try {
      const request = raw(inspector.url, "GET", "/api/instance?instance=a&workflowKey=b").catch((error: Error) => error);
      await firstCall;
      await inspector.close();
      expect(signals.map((signal) => [signal.aborted, signal.reason])).toEqual([[true, expect.any(CliError)]]);
      expect((signals[0]?.reason as Error).message).toMatch(/: the inspector stopped$/);
      // closeProvider waits for the calls in flight: with the call aborted, there are none.
      await store.close();
      expect(await request).toBeInstanceOf(Error);
    } finally {
      await inspector.close();
    }
  });

  it("waits for an action in flight rather than cut it, so that a delete cut between its claim and the delete can give the claim back", async () => {
    // The action's own deadline is what ends it here.
    const { firstCall, signals, store, inspector, token } = await actingOnStalledStore();
    const answered = action(inspector.url, "/api/delete", { instance: "a", workflowKey: "b" }, token).then(
      (response) => response.status,
      (error: Error) => `no answer: ${error.message}`,
    );
    await firstCall;
    let closed = false;
    const closing = inspector.close().then(() => void (closed = true));
    await new Promise((resolve) => setImmediate(resolve));
    expect([signals.length, signals[0]?.aborted, closed]).toEqual([1, false, false]);
    await closing;
    // Stopped by its deadline, not by the inspector stopping, and its answer reached the page.
    expect((signals[0]?.reason as Error).message).not.toMatch(/the inspector stopped/);
    expect(await answered).toEqual(expect.any(Number));
    await store.close();
  });

  it("refuses, with 503 and nothing done, an action whose body arrives after it began to stop", async () => {
    const { firstCall, signals, store, inspector, token } = await actingOnStalledStore();
    // An action in flight, which stopping waits for (until its deadline here).
    const first = action(inspector.url, "/api/delete", { instance: "a", workflowKey: "b" }, token).catch((error: Error) => error);
    await firstCall;
    // A second one, its headers sent and its body not yet.
    const { hostname, port } = new URL(inspector.url);
    const body = JSON.stringify({ instance: "c", workflowKey: "d" });
    const headers = { "content-type": "application/json", "content-length": String(Buffer.byteLength(body)), origin: inspector.url.replace(/\/$/, ""), "x-workflowforge-token": token };
    const late = request({ host: hostname, port, method: "POST", path: "/api/delete", headers });
    const answered = new Promise<{ status: number; text: string }>((resolve, reject) => {
      late.on("response", (response) => {
        let text = "";
        response.setEncoding("utf8");
        response.on("data", (chunk: string) => (text += chunk));
        response.on("end", () => resolve({ status: response.statusCode ?? 0, text }));
      });
      late.on("error", reject);
    });
    const received = once(inspector.server, "request");
    late.flushHeaders();
    await received;
    const closing = inspector.close();
    late.end(body);
    expect(await answered).toEqual({ status: 503, text: expect.stringContaining("the inspector is stopping: nothing was done") });
    await closing;
    await first;
    // The provider saw the first action's call only.
    expect(signals).toHaveLength(1);
    await store.close();
  });

  it("on Ctrl+C of `workflowforge ui`, says on stderr what it waits for when the store does not close at once", async () => {
    const child = spawn(process.execPath, ["--import", tsx, main, "ui", "--provider", stalledModule(false, true), "--port", "0", "--timeout", "1h"], { stdio: ["ignore", "pipe", "pipe"] });
    try {
      const said = new EventEmitter();
      let stdout = "";
      let stderr = "";
      child.stdout.on("data", (chunk: Buffer) => void said.emit("said", (stdout += chunk.toString())));
      child.stderr.on("data", (chunk: Buffer) => void said.emit("said", (stderr += chunk.toString())));
      let exited = false;
      child.once("exit", () => void said.emit("said", (exited = true)));
      const saying = async (pattern: RegExp): Promise<RegExpExecArray> => {
        for (;;) {
          const match = pattern.exec(stdout + stderr);
          if (match !== null) return match;
          if (exited) throw new Error(`exited without saying ${String(pattern)}: ${stdout}${stderr}`);
          await once(said, "said");
        }
      };
      const [, url] = await saying(/Open (http:\/\/127\.0\.0\.1:\d+\/)/);
      void raw(url as string, "GET", "/api/instance?instance=a&workflowKey=b").catch(() => undefined);
      await saying(/stalled: a call started/);
      child.kill("SIGINT");
      // The call ignores its signal, so closeProvider waits for it: that is said, with for how long at most.
      await saying(/workflowforge ui: stopping; waiting for the actions in flight and for provider from .*stalled\.mjs to close \(at most --timeout each\)\n/);
      expect(stderr.split("\n").filter((line) => line.startsWith("workflowforge"))).toEqual([expect.stringMatching(/^workflowforge ui: stopping; waiting for the actions in flight and for provider from /)]);
    } finally {
      child.kill("SIGKILL");
    }
  });
});
