import { spawnSync } from "node:child_process";
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, utimesSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterEach, beforeEach, describe, expect, it } from "vitest";

// scripts/build-if-stale.mjs (run by `npm run demo`) on a stand-in project whose `npm run build`
// writes dist/ like tsup would, prints build noise, and counts its runs in builds.log.
const script = fileURLToPath(new URL("../../scripts/build-if-stale.mjs", import.meta.url));

const fakeBuild = `
const fs = require("node:fs");
fs.appendFileSync("builds.log", "built\\n");
if (fs.existsSync("src/broken")) { console.error("src/broken: syntax error"); process.exit(3); }
console.log("CLI Building entry: src/index.ts");
fs.mkdirSync("dist", { recursive: true });
for (const file of ["index.js", "index.cjs", "cli.js"]) fs.writeFileSync("dist/" + file, "");
`;

let project = "";
beforeEach(() => {
  project = mkdtempSync(join(tmpdir(), "workflowforge-build-if-stale-"));
  mkdirSync(join(project, "scripts"));
  mkdirSync(join(project, "src"));
  copyFileSync(script, join(project, "scripts", "build-if-stale.mjs"));
  writeFileSync(join(project, "build.cjs"), fakeBuild);
  writeFileSync(join(project, "src", "index.ts"), "export {};\n");
  const pkg = {
    name: "stand-in",
    private: true,
    scripts: { build: "node build.cjs" },
    exports: { ".": { import: "./dist/index.js", require: "./dist/index.cjs" } },
    bin: { "stand-in": "./dist/cli.js" },
  };
  writeFileSync(join(project, "package.json"), JSON.stringify(pkg));
  // Every input is older than anything a build writes, whatever the file system's time resolution.
  for (const file of ["package.json", "src/index.ts"]) age(file, -60);
});
afterEach(() => rmSync(project, { recursive: true, force: true }));

/** Moves `file`'s modification time `seconds` from now. */
function age(file: string, seconds: number): void {
  const when = new Date(Date.now() + seconds * 1000);
  utimesSync(join(project, file), when, when);
}

function buildIfStale() {
  const env = Object.fromEntries(Object.entries(process.env).filter(([name]) => !/^npm_/i.test(name)));
  return spawnSync(process.execPath, ["scripts/build-if-stale.mjs"], { cwd: project, env, encoding: "utf8", timeout: 60_000 });
}
const builds = (): number => readFileSync(join(project, "builds.log"), "utf8").split("\n").filter(Boolean).length;

describe("build-if-stale", () => {
  it("builds when dist/ lacks a file package.json points at, showing one line and none of the build's output", () => {
    const first = buildIfStale();
    expect(first.status, first.stderr).toBe(0);
    expect(first.stdout).toBe("Building dist/ (dist/index.js is missing)…\n");
    expect(first.stderr).toBe("");
    expect(builds()).toBe(1);
  });

  it("does not build again, and prints nothing, when no source changed since dist/ was written", () => {
    buildIfStale();
    const second = buildIfStale();
    expect({ status: second.status, stdout: second.stdout, stderr: second.stderr }).toEqual({ status: 0, stdout: "", stderr: "" });
    expect(builds()).toBe(1);
  });

  it("builds again when a file under src/ or package.json is newer than dist/", () => {
    buildIfStale();
    age("src/index.ts", 60);
    expect(buildIfStale().stdout).toBe("Building dist/ (src/index.ts changed)…\n");
    age("src/index.ts", -60);
    age("package.json", 60);
    expect(buildIfStale().stdout).toBe("Building dist/ (package.json changed)…\n");
    expect(builds()).toBe(3);
  });

  it("prints the build's output and exits with its code when the build fails", () => {
    writeFileSync(join(project, "src", "broken"), "");
    const failed = buildIfStale();
    expect(failed.status).toBe(3);
    expect(failed.stderr).toContain("src/broken: syntax error");
    expect(failed.stderr).toContain("The build failed (exit code 3).");
  });
});
