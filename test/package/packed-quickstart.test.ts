import { spawnSync, type SpawnSyncReturns } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

// What a new user does first: install the published package into an empty project, save the
// README's first example as quickstart.mjs, run it (it crashes), look at the store with the CLI,
// run it again (it resumes). Here the package is the tarball `npm pack` makes of dist/, installed
// offline: the package has no runtime dependency, so nothing may need the network.
const root = fileURLToPath(new URL("../..", import.meta.url));
if (!existsSync(join(root, "dist", "index.js"))) {
  throw new Error("dist/ is missing: run npm run build first (npm test builds before it runs vitest)");
}

/** README.md's first fenced code block, which must be the ```js quickstart. */
function quickstartOf(readme: string): string {
  const block = /^```([^\n]*)\n([\s\S]*?)^```[ \t]*$/m.exec(readme);
  if (block?.[1]?.trim() !== "js") {
    const found = block === null ? "there is no code block" : `the first one is \`\`\`${block[1] ?? ""}`;
    throw new Error(`README.md's first code block must be the \`\`\`js quickstart (${found})`);
  }
  return block[2] ?? "";
}

// npm and npx see none of the npm_* settings of the `npm test` that started vitest, work offline,
// and have a registry that answers nothing: a step that tried the network would fail, not hang.
const environment: NodeJS.ProcessEnv = {
  ...Object.fromEntries(Object.entries(process.env).filter(([name]) => !/^npm_/i.test(name))),
  npm_config_offline: "true",
  npm_config_registry: "http://127.0.0.1:9/",
  npm_config_audit: "false",
  npm_config_fund: "false",
  npm_config_update_notifier: "false",
};

function run(command: string, args: readonly string[], cwd: string): SpawnSyncReturns<string> {
  return spawnSync(command, args, { cwd, env: environment, encoding: "utf8", timeout: 120_000 });
}

/** What a child printed, for assertion messages. */
const transcript = (child: SpawnSyncReturns<string>): string =>
  `exit ${String(child.status)}${child.error === undefined ? "" : ` (${child.error.message})`}\n--- stdout\n${child.stdout}\n--- stderr\n${child.stderr}`;
const linesOf = (child: SpawnSyncReturns<string>): string[] => `${child.stdout}\n${child.stderr}`.split("\n");

describe("the README's quickstart, run from the packed package in an empty project", () => {
  let work = "";
  let app = "";

  beforeAll(() => {
    work = mkdtempSync(join(tmpdir(), "workflowforge-packed-"));
    app = join(work, "app");
    mkdirSync(app);
    // Read first, so that a README without the quickstart fails before anything is packed.
    writeFileSync(join(app, "quickstart.mjs"), quickstartOf(readFileSync(join(root, "README.md"), "utf8")));
    writeFileSync(join(app, "package.json"), `${JSON.stringify({ name: "quickstart-app", version: "1.0.0", private: true }, null, 2)}\n`);

    const pack = run("npm", ["pack", "--silent", "--pack-destination", work], root);
    expect(pack.status, transcript(pack)).toBe(0);
    const tarball = readdirSync(work).find((name) => name.endsWith(".tgz"));
    expect(tarball, `npm pack wrote no .tgz into ${work}`).toBeDefined();

    const install = run("npm", ["install", "--offline", "--no-audit", "--no-fund", join(work, tarball as string)], app);
    expect(install.status, transcript(install)).toBe(0);
  }, 240_000);

  afterAll(() => {
    if (work !== "") rmSync(work, { recursive: true, force: true });
  });

  it("installs from the tarball offline, bringing no other package", () => {
    expect(readdirSync(join(app, "node_modules")).filter((name) => !name.startsWith("."))).toEqual(["workflowforge"]);
    expect(existsSync(join(app, "node_modules", ".bin", "workflowforge"))).toBe(true);
  });

  it("crashes in the first run, lists one running record of order-42, resumes in the second run and leaves no record", () => {
    const first = run(process.execPath, ["quickstart.mjs"], app);
    expect(first.status, transcript(first)).toBe(1);
    expect(linesOf(first).some((line) => /crash/i.test(line)), transcript(first)).toBe(true);

    // The line a user types between the two runs, then its JSON twin for the details.
    const listed = run("npx", ["workflowforge", "list", "--dir", "./workflow-state"], app);
    expect(listed.status, transcript(listed)).toBe(0);
    expect(listed.stdout.split("\n").filter((line) => line.includes("order-42") && line.includes("running")), transcript(listed)).toHaveLength(1);
    const records = run("npx", ["workflowforge", "list", "--dir", "./workflow-state", "--json"], app);
    expect(records.status, transcript(records)).toBe(0);
    expect(JSON.parse(records.stdout)).toEqual([
      expect.objectContaining({ instance: "order-42", status: "running", nextOperationIndex: 1, operationCount: 3 }),
    ]);

    const second = run(process.execPath, ["quickstart.mjs"], app);
    expect(second.status, transcript(second)).toBe(0);
    expect(linesOf(second).some((line) => /resumed/i.test(line)), transcript(second)).toBe(true);

    const after = run("npx", ["workflowforge", "list", "--dir", "./workflow-state", "--json"], app);
    expect(after.status, transcript(after)).toBe(0);
    expect(JSON.parse(after.stdout)).toEqual([]);
    // Five processes, three of them npx: 10 s on an idle 2-core machine, more than the default 20 s on a busy one.
  }, 120_000);
});

describe("the quickstart read from README.md", () => {
  it("is the first fenced block, and only when it is ```js", () => {
    expect(quickstartOf("# x\n\n```js\nconsole.log(1);\n```\n\n```sh\nnpm test\n```\n")).toBe("console.log(1);\n");
    expect(() => quickstartOf("# x\n\n```sh\nnpm install && npm run demo\n```\n\n```js\nconsole.log(1);\n```\n")).toThrow(
      "README.md's first code block must be the ```js quickstart (the first one is ```sh)",
    );
    expect(() => quickstartOf("# x\n")).toThrow("README.md's first code block must be the ```js quickstart (there is no code block)");
  });
});
