import { spawn } from "node:child_process";
import { once } from "node:events";
import { existsSync } from "node:fs";
import { createRequire } from "node:module";
import { fileURLToPath, pathToFileURL } from "node:url";
import { describe, expect, it } from "vitest";
import { raw, sqliteFiles } from "./fixture.js";

const freshSqlite = sqliteFiles();
import { inspectorSnapshots } from "./seed.js";

const main = fileURLToPath(new URL("../../src/cli/main.ts", import.meta.url));
const built = fileURLToPath(new URL("../../dist/cli.js", import.meta.url));
const tsx = pathToFileURL(createRequire(import.meta.url).resolve("tsx")).href;

/** Starts `ui --port 0` with `argv` before it (the program), and resolves with the printed URL. */
async function startUi(program: readonly string[], file: string) {
  const child = spawn(process.execPath, [...program, "ui", "--sqlite", file, "--port", "0"], { stdio: ["ignore", "pipe", "pipe"], timeout: 30_000, killSignal: "SIGKILL" });
  let stdout = "";
  let stderr = "";
  child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
  const url = await new Promise<string>((found, failed) => {
    child.stdout.on("data", (chunk: Buffer) => {
      stdout += chunk.toString();
      const match = /Open (http:\/\/127\.0\.0\.1:\d+\/)/.exec(stdout);
      if (match !== null) found(match[1] as string);
    });
    child.once("exit", (code) => failed(new Error(`exited ${code} before printing a URL: ${stdout}${stderr}`)));
  });
  const stop = async (): Promise<number | null> => {
    const exited = once(child, "exit");
    child.kill("SIGTERM");
    return (await exited)[0] as number | null;
  };
  return { url, stdout, stop };
}

async function seededFile(): Promise<string> {
  const { spec, provider, database } = await freshSqlite();
  for (const snapshot of inspectorSnapshots()) await provider.save(snapshot);
  database.close();
  return (spec as { file: string }).file;
}

describe("workflowforge ui (the command)", () => {
  it("prints the URL of a free port with --port 0, serves the store there, and exits 0 on SIGTERM", async () => {
    const { url, stdout, stop } = await startUi(["--import", tsx, main], await seededFile());
    expect(stdout).toContain("read-only (pass --allow-actions to delete, retry, cancel or send events)");
    expect((await raw(url, "GET", "/api/instances")).json().total).toBe(10);
    expect(await stop()).toBe(0);
  });

  it("serves its page from the built package (dist/cli.js finds the page files the build copies)", async () => {
    if (!existsSync(built)) throw new Error("dist/ is missing: run npm run build first (npm test builds before it runs vitest)");
    const { url, stop } = await startUi([built], await seededFile());
    const [page, script, style] = await Promise.all(["/", "/app.js", "/app.css"].map((path) => raw(url, "GET", path)));
    expect([page?.status, script?.status, style?.status]).toEqual([200, 200, 200]);
    expect(page?.body).toMatch(/<meta name="workflowforge-token" content="[0-9a-f]{48}">/);
    expect(script?.headers["content-type"]).toBe("text/javascript; charset=utf-8");
    expect(await stop()).toBe(0);
  });

  it("exits 1 naming the address when the port is taken, and suggests --port 0", async () => {
    const file = await seededFile();
    const first = await startUi(["--import", tsx, main], file);
    const { cli } = await import("../cli/run-cli.js");
    const port = new URL(first.url).port;
    const { code, stderr } = await cli("ui", "--sqlite", file, "--port", port);
    expect([code, stderr]).toEqual([1, `workflowforge: cannot listen on 127.0.0.1:${port}: listen EADDRINUSE: address already in use 127.0.0.1:${port}; another process listens there: pass another --port, or --port 0 for a free one\n`]);
    expect(await first.stop()).toBe(0);
  });

  it("lists ui in the help", async () => {
    const { cli } = await import("../cli/run-cli.js");
    expect((await cli("--help")).stdout).toMatch(/^ {2}ui {3,}serve the inspector/m);
    expect((await cli("help", "ui")).stdout).toContain("--allow-actions");
  });
});
