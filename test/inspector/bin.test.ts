import { spawn } from "node:child_process";
import { once } from "node:events";
import { createRequire } from "node:module";
import { fileURLToPath, pathToFileURL } from "node:url";
import { describe, expect, it } from "vitest";
import { freshSqlite, raw } from "./fixture.js";
import { inspectorSnapshots } from "./seed.js";

const main = fileURLToPath(new URL("../../src/cli/main.ts", import.meta.url));
const tsx = pathToFileURL(createRequire(import.meta.url).resolve("tsx")).href;

describe("workflowforge ui (the command)", () => {
  it("prints the URL of a free port with --port 0, serves the store there, and exits 0 on SIGTERM", async () => {
    const { spec, provider, database } = await freshSqlite();
    for (const snapshot of inspectorSnapshots()) await provider.save(snapshot);
    database.close();
    const file = (spec as { file: string }).file;
    const child = spawn(process.execPath, ["--import", tsx, main, "ui", "--sqlite", file, "--port", "0"], { stdio: ["ignore", "pipe", "pipe"], timeout: 30_000, killSignal: "SIGKILL" });
    let stdout = "";
    const url = await new Promise<string>((found, failed) => {
      child.stdout.on("data", (chunk: Buffer) => {
        stdout += chunk.toString();
        const match = /Open (http:\/\/127\.0\.0\.1:\d+\/)/.exec(stdout);
        if (match !== null) found(match[1] as string);
      });
      child.once("exit", (code) => failed(new Error(`exited ${code} before printing a URL: ${stdout}`)));
    });
    expect(stdout).toContain("read-only (pass --allow-actions to delete or retry)");
    expect((await raw(url, "GET", "/api/instances")).json().total).toBe(9);
    const exited = once(child, "exit");
    child.kill("SIGTERM");
    expect((await exited)[0]).toBe(0);
  });

  it("lists ui in the help", async () => {
    const { cli } = await import("../cli/run-cli.js");
    expect((await cli("--help")).stdout).toMatch(/^ {2}ui {3,}serve the inspector/m);
    expect((await cli("help", "ui")).stdout).toContain("--allow-actions");
  });
});
