import { spawn, type ChildProcess } from "node:child_process";
import { accessSync, constants, mkdtempSync, rmSync } from "node:fs";
import { createConnection, createServer } from "node:net";
import { tmpdir } from "node:os";
import { delimiter, join } from "node:path";
import { serverSkipped, type ServerSkipped, type ThrowawayServer } from "./throwaway-server.js";

/** A throw-away redis-server. */
export type RedisServer = ThrowawayServer;
export type RedisSkipped = ServerSkipped;

const HOST = "127.0.0.1";
const HOW_TO_ENABLE = "install redis-server (apt-get install redis-server) to run the Redis suite";

/** The redis-server binary on PATH, if any. */
export function findRedisServer(): string | undefined {
  for (const dir of (process.env.PATH ?? "").split(delimiter)) {
    if (dir === "") continue;
    const candidate = join(dir, "redis-server");
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {
      // not in this directory
    }
  }
  return undefined;
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, HOST, () => {
      const address = server.address();
      server.close(() => (typeof address === "object" && address !== null ? resolve(address.port) : reject(new Error("no port"))));
    });
  });
}

/** Resolves once the server answers PING on `port`; a refused connection is retried. */
function ping(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = createConnection({ host: HOST, port });
    let reply = "";
    socket.setTimeout(1000, () => socket.destroy());
    socket.once("error", () => resolve(false));
    socket.once("close", () => resolve(reply.startsWith("+PONG")));
    socket.on("connect", () => socket.write("PING\r\n"));
    socket.on("data", (chunk) => {
      reply += chunk.toString("latin1");
      if (reply.includes("\r\n")) socket.end();
    });
  });
}

function exited(child: ChildProcess): Promise<void> {
  return child.exitCode !== null || child.signalCode !== null ? Promise.resolve() : new Promise((resolve) => child.once("exit", () => resolve()));
}

async function waitReady(child: ChildProcess, port: number, output: () => string): Promise<void> {
  const deadline = Date.now() + 10_000;
  while (Date.now() < deadline) {
    if (child.exitCode !== null || child.signalCode !== null) throw new Error(`redis-server exited early: ${output()}`);
    if (await ping(port)) return;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error(`redis-server did not answer PING on port ${port} within 10 s: ${output()}`);
}

async function startOnce(binary: string): Promise<RedisServer> {
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), "workflowforge-redis-"));
  // No persistence at all: the server only lives for one test file, and nothing here needs a restart.
  const args = ["--port", String(port), "--bind", HOST, "--save", "", "--appendonly", "no", "--dir", dir, "--daemonize", "no", "--logfile", ""];
  const child = spawn(binary, args, { stdio: ["ignore", "pipe", "pipe"] });
  let output = "";
  const collect = (chunk: Buffer): void => void (output = (output + chunk.toString()).slice(-2000));
  child.stdout?.on("data", collect);
  child.stderr?.on("data", collect);
  // A test process that is killed (a timeout, SIGKILL) runs no afterAll and no exit handler, but its
  // end of this pipe still closes: the watchdog then kills the server and removes its directory.
  const watchdog = spawn("sh", ["-c", 'read line; kill -9 "$1"; rm -rf "$2"', "sh", String(child.pid), dir], { stdio: ["pipe", "ignore", "ignore"] });
  watchdog.once("error", () => undefined); // without sh there is no watchdog, only stop()
  void exited(child).then(() => watchdog.kill("SIGKILL"));
  const stop = async (): Promise<void> => {
    child.kill("SIGKILL");
    await exited(child);
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    await waitReady(child, port, () => output);
  } catch (error) {
    await stop();
    throw error;
  }
  return { url: `redis://${HOST}:${port}`, port, stop };
}

/**
 * Starts a redis-server of its own on a free port of 127.0.0.1 (never the system's 6379), or says
 * why it cannot. Another process may take the free port between the probe and the server's bind,
 * so a failed start is retried on a new port. With `WORKFLOWFORGE_REQUIRE_SERVERS=1` (CI) a
 * missing binary is an error instead of a skip.
 */
export async function startRedis(): Promise<RedisServer | RedisSkipped> {
  const binary = findRedisServer();
  if (binary === undefined) {
    return serverSkipped(`redis-server not found on PATH: ${HOW_TO_ENABLE}`);
  }
  let lastError: unknown;
  for (let attempt = 0; attempt < 3; attempt++) {
    try {
      return await startOnce(binary);
    } catch (error) {
      lastError = error;
    }
  }
  throw lastError;
}
