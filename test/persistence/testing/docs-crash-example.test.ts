import { execFile } from "node:child_process";
import { mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { afterAll, describe, expect, it } from "vitest";

// The crash-harness example of docs/writing-a-provider.md, its two scripts written out as a user would save them and
// run with node. They import the built package by name, which resolves to this package's own exports.

const readme = readFileSync(new URL("../../../docs/writing-a-provider.md", import.meta.url), "utf8");
const directory = fileURLToPath(new URL("../../.readme-samples/crash/", import.meta.url));
afterAll(() => rmSync(directory, { recursive: true, force: true }));

function script(name: string): string {
  const block = [...readme.matchAll(/```js\n([\s\S]*?)```/g)].map((match) => match[1] as string).find((text) => text.startsWith(`// ${name}`));
  if (block === undefined) throw new Error(`docs/writing-a-provider.md has no js block starting with "// ${name}"`);
  return block;
}

describe("the crash-harness example of the provider guide", () => {
  it("runs as written: every instance completes through random kills, with no violation", { timeout: 180_000 }, async () => {
    mkdirSync(directory, { recursive: true });
    for (const name of ["crash-child.mjs", "crash-check.mjs"]) writeFileSync(`${directory}${name}`, script(name));
    const { stdout } = await promisify(execFile)(process.execPath, [`${directory}crash-check.mjs`], { timeout: 170_000 });
    const [summary] = stdout.split("\n");
    expect(summary).toMatch(/^\d+ kills, [1-9]\d* mid-run, 0 violations$/);
  });
});
