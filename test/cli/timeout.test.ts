import { spawn, type ChildProcess } from "node:child_process";
import { createServer, type Socket } from "node:net";
import { fileURLToPath } from "node:url";
import { afterAll, afterEach, describe, expect, it } from "vitest";
import { cli } from "./run-cli.js";

/** A server on 127.0.0.1 that accepts every connection and never reads from it nor answers. */
async function silentServer(): Promise<{ readonly port: number; stop(): Promise<void> }> {
  const sockets = new Set<Socket>();
  const server = createServer((socket) => {
    sockets.add(socket);
    socket.on("error", () => undefined);
  });
  await new Promise<void>((listening, failed) => {
    server.once("error", failed);
    server.listen(0, "127.0.0.1", listening);
  });
  const address = server.address();
  if (typeof address !== "object" || address === null) throw new Error("no port");
  return {
    port: address.port,
    stop: () => {
      for (const socket of sockets) socket.destroy();
      return new Promise((closed) => server.close(() => closed()));
    },
  };
}

const main = fileURLToPath(new URL("../../src/cli/main.ts", import.meta.url));
const children = new Set<ChildProcess>();
// A child that hangs is this suite's failure (by the test's timeout); it must not outlive the test.
afterEach(() => {
  for (const child of children) child.kill("SIGKILL");
  children.clear();
});

/** Runs the CLI from the sources in a process of its own; resolves once that process has exited. */
function cliProcess(...argv: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const child = spawn(process.execPath, ["--import", "tsx", main, ...argv], { stdio: ["ignore", "pipe", "pipe"] });
  children.add(child);
  let stdout = "";
  let stderr = "";
  child.stdout?.on("data", (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr?.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
  return new Promise((exited, failed) => {
    child.once("error", failed);
    child.once("close", (code) => {
      children.delete(child);
      exited({ code, stdout, stderr });
    });
  });
}

const server = await silentServer();
afterAll(() => server.stop());

const stores = [
  { flag: "--redis", url: `redis://:s3cr3t@127.0.0.1:${server.port}`, shown: `Redis redis://:***@127.0.0.1:${server.port}`, kind: "Redis" },
  { flag: "--postgres", url: `postgres://app:s3cr3t@127.0.0.1:${server.port}/app`, shown: `PostgreSQL postgres://app:***@127.0.0.1:${server.port}/app`, kind: "PostgreSQL" },
] as const;
const commands: string[][] = [["list"], ["show", "order-42", "billing-v1"], ["delete", "order-42", "billing-v1"], ["prune", "--older-than", "1d"]];
const noAnswer = (store: (typeof stores)[number], timeout: string): string =>
  `workflowforge: cannot reach ${store.shown}: no answer within ${timeout}; check that a ${store.kind} server listens at that address and is reachable, or raise --timeout\n`;

describe("workflowforge CLI with a server that accepts connections and never answers", () => {
  describe.each(stores)("$flag", (store) => {
    it.each(commands)("%s gives up after --timeout, naming the server and what to check, and exits 1", async (...command: string[]) => {
      const { code, stdout, stderr } = await cli(...command, store.flag, store.url, "--timeout", "200ms");
      expect({ code, stdout, stderr }).toEqual({ code: 1, stdout: "", stderr: noAnswer(store, "200ms") });
    });

    // In a process of its own: a socket left open would keep it alive, and this test would time out.
    it("exits, rather than waiting for an answer that never comes", async () => {
      const { code, stdout, stderr } = await cliProcess("list", store.flag, store.url, "--timeout", "300ms");
      expect({ code, stdout, stderr }).toEqual({ code: 1, stdout: "", stderr: noAnswer(store, "300ms") });
    });
  });
});
