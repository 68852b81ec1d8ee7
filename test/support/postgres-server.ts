import { execFile, execFileSync, spawn, type ChildProcess } from "node:child_process";
import { accessSync, appendFileSync, chownSync, constants, existsSync, mkdtempSync, readFileSync, readdirSync, realpathSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { delimiter, dirname, join } from "node:path";
import { promisify } from "node:util";
import { serverSkipped, type ServerSkipped, type ThrowawayServer } from "./throwaway-server.js";

/** A throw-away PostgreSQL cluster (trust authentication). */
export type PostgresServer = ThrowawayServer;
export type PostgresSkipped = ServerSkipped;

const HOST = "127.0.0.1";
const HOW_TO_ENABLE = "install PostgreSQL (apt-get install postgresql) to run the real-server suite";
const run = promisify(execFile);

function executable(path: string): boolean {
  try {
    accessSync(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

const hasServerBinaries = (dir: string): boolean => ["initdb", "pg_ctl", "postgres"].every((name) => executable(join(dir, name)));

/**
 * The directory holding initdb, pg_ctl and postgres: pg_ctl on PATH (followed through symlinks, as
 * Debian's /usr/local/bin or /usr/bin wrappers point into it), else the newest
 * /usr/lib/postgresql/<version>/bin.
 */
export function findPostgresBinaries(): string | undefined {
  for (const dir of (process.env.PATH ?? "").split(delimiter)) {
    if (dir === "" || !executable(join(dir, "pg_ctl"))) continue;
    const real = dirname(realpathSync(join(dir, "pg_ctl")));
    if (hasServerBinaries(real)) return real;
  }
  const root = "/usr/lib/postgresql";
  if (!existsSync(root)) return undefined;
  const versions = readdirSync(root).sort((a, b) => Number.parseFloat(b) - Number.parseFloat(a));
  return versions.map((version) => join(root, version, "bin")).find(hasServerBinaries);
}

// PostgreSQL refuses to run as root: as root, its tools run as the `postgres` OS user.
interface Runner {
  readonly owner: { uid: number; gid: number } | undefined;
  /** The command line that runs `binary` as the cluster's owner. */
  argv(binary: string, args: readonly string[]): [string, ...string[]];
}

function runnerFor(): Runner | PostgresSkipped {
  if (process.getuid?.() !== 0) return { owner: undefined, argv: (binary, args) => [binary, ...args] };
  let uid: number, gid: number;
  try {
    uid = Number(execFileSync("id", ["-u", "postgres"], { encoding: "utf8" }).trim());
    gid = Number(execFileSync("id", ["-g", "postgres"], { encoding: "utf8" }).trim());
  } catch {
    return serverSkipped(`running as root and there is no "postgres" OS user to run PostgreSQL as: ${HOW_TO_ENABLE}`);
  }
  return { owner: { uid, gid }, argv: (binary, args) => ["runuser", "-u", "postgres", "--", binary, ...args] };
}

async function runAs(runner: Runner, binary: string, args: readonly string[], cwd: string): Promise<void> {
  const [file, ...rest] = runner.argv(binary, args);
  await run(file, rest, { cwd });
}

const shellQuote = (word: string): string => `'${word.replaceAll("'", `'\\''`)}'`;

/**
 * A detached shell that waits for this process to end, then stops the cluster and removes its
 * directory: a test worker killed by a timeout or a signal runs no afterAll and no 'exit' handler,
 * and a daemonised postmaster would otherwise outlive it.
 */
function startWatchdog(runner: Runner, pgCtl: string, data: string, dir: string): ChildProcess {
  const stop = runner.argv(pgCtl, ["-D", data, "-m", "immediate", "-w", "stop"]).map(shellQuote).join(" ");
  const script = `while kill -0 ${process.pid} 2>/dev/null; do sleep 1; done; ${stop} >/dev/null 2>&1; rm -rf ${shellQuote(dir)}`;
  const watchdog = spawn("/bin/sh", ["-c", script], { detached: true, stdio: "ignore" });
  watchdog.unref();
  return watchdog;
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

const tail = (file: string): string => (existsSync(file) ? readFileSync(file, "utf8").slice(-2000) : "(no log)");

const initdb = (binDir: string, runner: Runner, data: string, dir: string): Promise<void> =>
  runAs(runner, join(binDir, "initdb"), ["-D", data, "-U", "postgres", "-A", "trust", "-E", "UTF8", "--locale=C", "--no-sync"], dir);

/** Set by the suite's global setup (test/support/global-setup.ts) to a cluster made once. */
export const templateVariable = "WORKFLOWFORGE_PG_TEMPLATE";

/**
 * A new cluster in `data`: a copy of the suite's template when there is one (a quarter of a second,
 * where initdb takes a second of CPU, for each of the twenty-odd servers a run starts), else initdb.
 */
async function createCluster(binDir: string, runner: Runner, data: string, dir: string): Promise<void> {
  const template = process.env[templateVariable];
  if (template !== undefined && existsSync(template)) return runAs(runner, "cp", ["-a", template, data], dir);
  await initdb(binDir, runner, data, dir);
}

/**
 * Runs initdb once into a new directory and returns the cluster's path and a function that removes
 * it, or undefined without the binaries (the servers are skipped then anyway).
 */
export async function createTemplateCluster(): Promise<{ data: string; remove(): void } | undefined> {
  const binDir = findPostgresBinaries();
  const runner = binDir === undefined ? undefined : runnerFor();
  if (binDir === undefined || runner === undefined || "skipped" in runner) return undefined;
  const dir = mkdtempSync(join(tmpdir(), "workflowforge-pg-template-"));
  if (runner.owner !== undefined) chownSync(dir, runner.owner.uid, runner.owner.gid);
  const data = join(dir, "data");
  await initdb(binDir, runner, data, dir);
  return { data, remove: () => rmSync(dir, { recursive: true, force: true }) };
}

async function startOnce(binDir: string, runner: Runner): Promise<PostgresServer> {
  const dir = mkdtempSync(join(tmpdir(), "workflowforge-pg-"));
  const data = join(dir, "data");
  const log = join(dir, "server.log");
  const pgCtl = join(binDir, "pg_ctl");
  if (runner.owner !== undefined) chownSync(dir, runner.owner.uid, runner.owner.gid);
  const watchdog = startWatchdog(runner, pgCtl, data, dir);
  const stopCluster = async (mode: "fast" | "immediate"): Promise<void> => {
    watchdog.kill();
    await runAs(runner, pgCtl, ["-D", data, "-m", mode, "-w", "stop"], dir).catch(() => undefined);
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    await createCluster(binDir, runner, data, dir);
    const port = await freePort();
    // Only 127.0.0.1, no TCP anywhere else, the socket in our own directory. fsync stays on
    // (the default), so what the tests and the bench see is what a real deployment pays.
    const settings = [`listen_addresses = '${HOST}'`, `port = ${port}`, `unix_socket_directories = '${dir}'`];
    appendFileSync(join(data, "postgresql.conf"), `\n${settings.join("\n")}\n`);
    await runAs(runner, pgCtl, ["-D", data, "-l", log, "-w", "-t", "60", "start"], dir);
    let stopping: Promise<void> | undefined;
    return { url: `postgres://postgres@${HOST}:${port}/postgres`, port, stop: () => (stopping ??= stopCluster("fast")) };
  } catch (error) {
    const message = `PostgreSQL did not start: ${error instanceof Error ? error.message : String(error)}\n${tail(log)}`;
    await stopCluster("immediate");
    throw new Error(message, { cause: error });
  }
}

/**
 * Creates a cluster in a new directory under the OS temp directory and starts it on a free port of
 * 127.0.0.1, or says why it cannot. Another process may take the free port between the probe and
 * the server's bind, so a failed start is retried with a new cluster on a new port. With
 * `WORKFLOWFORGE_REQUIRE_SERVERS=1` (CI) a missing binary or OS user is an error instead of a skip.
 */
export async function startPostgres(): Promise<PostgresServer | PostgresSkipped> {
  const binDir = findPostgresBinaries();
  if (binDir === undefined) return serverSkipped(`PostgreSQL binaries (initdb, pg_ctl) not found on PATH or in /usr/lib/postgresql/*/bin: ${HOW_TO_ENABLE}`);
  const runner = runnerFor();
  if ("skipped" in runner) return runner;
  let lastError: unknown;
  for (let attempt = 0; attempt < 3; attempt++) {
    try {
      return await startOnce(binDir, runner);
    } catch (error) {
      lastError = error;
    }
  }
  throw lastError;
}
