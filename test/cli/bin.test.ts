import { spawnSync } from "node:child_process";
import { closeSync, copyFileSync, existsSync, openSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { Redis } from "ioredis";
import { afterAll, describe, expect, it } from "vitest";
import { RedisPersistenceProvider } from "../../src/persistence/providers/redis.js";
import { startRedis } from "../support/redis-server.js";
import { seedSnapshots } from "./run-cli.js";
import { seededFileStore } from "../support/file-store.js";

// The bin as npm installs it: dist/cli.js run by plain node, in a child process.
const root = fileURLToPath(new URL("../..", import.meta.url));
const bin = join(root, "dist", "cli.js");
if (!existsSync(bin)) throw new Error("dist/cli.js is missing: run npm run build first (npm test builds before it runs vitest)");

const scratch = mkdtempSync(join(tmpdir(), "workflowforge-cli-bin-"));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

function run(script: string, args: readonly string[]): { status: number | null; stdout: string; stderr: string } {
  // A timeout turns a process that never exits (an open client) into a failed status.
  const child = spawnSync(process.execPath, [script, ...args], { encoding: "utf8", timeout: 15_000 });
  return { status: child.status, stdout: child.stdout, stderr: child.stderr };
}

/**
 * A copy of the bin in a directory of its own, outside the project: no driver resolves from there
 * unless `drivers` links it in from the project's node_modules.
 */
function isolatedBin(drivers: readonly string[] = []): string {
  const dir = mkdtempSync(join(scratch, "install-"));
  mkdirSync(join(dir, "dist"));
  writeFileSync(join(dir, "package.json"), JSON.stringify({ name: "workflowforge", version: "0.0.0-isolated", type: "module" }));
  copyFileSync(bin, join(dir, "dist", "cli.js"));
  for (const driver of drivers) {
    mkdirSync(join(dir, "node_modules"), { recursive: true });
    symlinkSync(join(root, "node_modules", driver), join(dir, "node_modules", driver), "dir");
  }
  return join(dir, "dist", "cli.js");
}

describe("the built workflowforge bin", () => {
  it("is the package's bin, an executable ESM file that starts with a node shebang", () => {
    const pkg = JSON.parse(readFileSync(join(root, "package.json"), "utf8")) as { bin: Record<string, string>; files: string[]; type: string };
    expect(pkg.bin).toEqual({ workflowforge: "./dist/cli.js" });
    expect(pkg.files).toContain("dist");
    expect(pkg.type).toBe("module");
    const text = readFileSync(bin, "utf8");
    expect(text.split("\n")[0]).toBe("#!/usr/bin/env node");
    expect(text).toMatch(/^import .* from ['"]/m);
    expect(statSync(bin).mode & 0o111).not.toBe(0);
  });

  it("prints the usage and exits 0 for --help", () => {
    const { status, stdout, stderr } = run(bin, ["--help"]);
    expect(stderr).toBe("");
    expect(status).toBe(0);
    expect(stdout).toContain("Usage:\n  workflowforge <command> [arguments] <store> [options]");
  });

  it("lists a directory store as JSON and exits 0", async () => {
    const { directory } = await seededFileStore(scratch, seedSnapshots());
    const { status, stdout, stderr } = run(bin, ["list", "--dir", directory, "--json", "--status", "failed"]);
    expect(stderr).toBe("");
    expect(status).toBe(0);
    expect(JSON.parse(stdout)).toMatchObject([{ instance: "order-42", workflowKey: "billing-v1", status: "failed", attempts: 2 }]);
  });

  // /dev/full refuses every write with ENOSPC, as a full disk behind `> out.json` does.
  it.skipIf(!existsSync("/dev/full"))("says in one line on stderr, with no stack trace, that its output could not be written (a full disk), and exits 1", async () => {
    const { directory } = await seededFileStore(scratch, seedSnapshots());
    const full = openSync("/dev/full", "w");
    try {
      const child = spawnSync(process.execPath, [bin, "list", "--dir", directory, "--json"], { encoding: "utf8", timeout: 15_000, stdio: ["ignore", full, "pipe"] });
      expect(child.stderr).toMatch(/^workflowforge: cannot write the output: .*ENOSPC.* \(what the command did in the store is done\)\n$/);
      expect(child.status).toBe(1);
    } finally {
      closeSync(full);
    }
  });

  it("exits 2 on bad arguments", () => {
    const { status, stderr } = run(bin, ["list", "--dir", ".", "--older-than", "soon"]);
    expect(status).toBe(2);
    expect(stderr).toMatch(/^workflowforge: --older-than "soon" is not a duration/);
  });

  it("names the package to install when a store's driver is missing, and exits 1", () => {
    const isolated = isolatedBin();
    const database = join(scratch, "empty.db");
    writeFileSync(database, "");
    const cases: [string[], string][] = [
      [["--postgres", "postgres://127.0.0.1:1/app"], '--postgres needs the "pg" package, which is not installed: run `npm install pg`'],
      [["--sqlite", database], '--sqlite needs the "better-sqlite3" package, which is not installed: run `npm install better-sqlite3`'],
      [["--redis", "redis://127.0.0.1:1"], '--redis needs the "ioredis" or "redis" package, which is not installed: run `npm install ioredis` or `npm install redis`'],
    ];
    for (const [store, message] of cases) {
      const { status, stdout, stderr } = run(isolated, ["list", ...store]);
      expect({ status, stdout, stderr }).toEqual({ status: 1, stdout: "", stderr: `workflowforge: ${message}\n` });
    }
  });
});

const redis = await startRedis();
if ("skipped" in redis) console.warn(`node-redis fallback test of the bin skipped: ${redis.skipped}`);

describe.skipIf("skipped" in redis)("the built workflowforge bin with node-redis only", () => {
  afterAll(() => ("skipped" in redis ? undefined : redis.stop()));

  it("falls back to the redis package when ioredis is not installed", async () => {
    if ("skipped" in redis) return;
    const client = new Redis(redis.url);
    try {
      const provider = new RedisPersistenceProvider({ client, keyPrefix: "bin:" });
      for (const snapshot of seedSnapshots()) await provider.save(snapshot);
    } finally {
      await client.quit();
    }
    const { status, stdout, stderr } = run(isolatedBin(["redis", "@redis"]), ["list", "--redis", redis.url, "--key-prefix", "bin:", "--json"]);
    expect(stderr).toBe("");
    expect(status).toBe(0);
    expect(JSON.parse(stdout).map((summary: { instance: string }) => summary.instance)).toEqual(["invoice-7", "order-42", "ship-9", "ship-10"]);
  });
});
