import { mkdirSync, writeFileSync } from "node:fs";
import { dirname, join, relative } from "node:path";
import { fileURLToPath } from "node:url";
import ts from "typescript";

// Runs the TypeScript samples of Markdown pages against the sources, as a user would run them
// against the package. A `console.log(x); // v` line also asserts that x prints as v (JSON), so
// the outputs a page claims stay true.

/** One ```ts block of a Markdown page. */
export interface Sample {
  /** The page, relative to the repository's root. */
  readonly page: string;
  /** The 1-based line of the page on which the block's code starts. */
  readonly line: number;
  readonly code: string;
}

const root = fileURLToPath(new URL("../../", import.meta.url));
const source = (path: string): string => join(root, "src", path);

/** The ```ts blocks of `markdown`, in order. Other fences (```js, ```text, ```sh) are not samples. */
export function samplesOf(markdown: string, page: string): Sample[] {
  return [...markdown.matchAll(/^```ts\n([\s\S]*?)^```/gm)].map((match) => ({
    page,
    line: markdown.slice(0, match.index).split("\n").length + 1,
    code: match[1] as string,
  }));
}

const packageTargets: Record<string, string> = {
  "workflowforge": source("index.ts"),
  "workflowforge/persistence": source("persistence/index.ts"),
  "workflowforge/persistence/testing": source("persistence/testing/index.ts"),
  "workflowforge/persistence/file": source("persistence/providers/file/index.ts"),
  "workflowforge/persistence/sqlite": source("persistence/providers/sqlite.ts"),
  "workflowforge/persistence/postgres": source("persistence/providers/postgres.ts"),
  "workflowforge/persistence/redis": source("persistence/providers/redis.ts"),
  "workflowforge/otel": source("otel/index.ts"),
};

// A sample that registers the conformance suite runs it through a stand-in that runs every case at once.
const collectingFramework = join(root, "test/support/collecting-framework.ts");

const runTarget = (specifier: string): string => packageTargets[specifier] ?? (specifier === "vitest" ? collectingFramework : specifier);

/**
 * The number of `console.log(x); // v` claims in `code`, wherever they stand on their line: one
 * that does not start its line is not checked by {@link runnable}, so the count then disagrees.
 */
export function claimsIn(code: string): number {
  return [...code.matchAll(/console\.log\(.*\);\s*\/\/\s*\S/g)].length;
}

/**
 * The sample as it runs: package imports point at the sources, and each claimed output becomes a
 * call of `globalThis.__expectPrinted(value, expectedJson)`. Text after `: ` in the comment explains.
 */
export function runnable(code: string): string {
  return code
    .replace(/from "([^"]+)"/g, (_, specifier: string) => `from ${JSON.stringify(runTarget(specifier))}`)
    .replace(/^(\s*)console\.log\((.*)\);\s*\/\/\s*(.+?)(?::\s.*)?$/gm, (_, indent: string, expression: string, expected: string) => {
      return `${indent}(globalThis as any).__expectPrinted(${expression}, ${JSON.stringify(expected.trim())});`;
    });
}

/** A ```js block that is a file of its own: its first line is `// <name>.mjs`, then, after `: `, what it is or how to run it. */
export interface JsFile {
  readonly page: string;
  readonly line: number;
  readonly name: string;
  readonly code: string;
  /** The command its first line gives: `node <name>` or `npx workflowforge …`, else undefined. */
  readonly command: readonly string[] | undefined;
}

/** The ```js blocks of `markdown` that name their file; {@link samplesOf} for what every block is. */
export function jsFilesOf(markdown: string, page: string): JsFile[] {
  return [...markdown.matchAll(/^```js\n([\s\S]*?)^```/gm)].map((match) => {
    const code = match[1] as string;
    const header = /^\/\/ (\S+\.mjs)(?::? (.*))?$/m.exec(code.split("\n", 1)[0] ?? "");
    const run = /(?:^|: |\s)((?:node|npx workflowforge) .+)$/.exec(header?.[2] ?? "")?.[1];
    return { page, line: markdown.slice(0, match.index).split("\n").length + 1, name: header?.[1] ?? "", code, command: run?.split(" ") };
  });
}

/** Marks the lines a ```js file prints for its claims: `<claimPrefix>[actual JSON, expected JSON]`. */
export const claimPrefix = "\u0000claim ";

/** A ```js file as it runs with node: each claimed output printed as a {@link claimPrefix} line instead. */
export function runnableJs(code: string): string {
  return code.replace(/^(\s*)console\.log\((.*)\);\s*\/\/\s*(.+?)(?::\s.*)?$/gm, (_, indent: string, expression: string, expected: string) => {
    return `${indent}console.log(${JSON.stringify(claimPrefix)} + JSON.stringify([JSON.stringify(${expression}), ${JSON.stringify(expected.trim())}]));`;
  });
}

/** Which throw-away servers a sample needs, by the drivers it imports. */
export function serversFor(code: string): { readonly redis: boolean; readonly postgres: boolean } {
  return { redis: /from "(ioredis|redis)"/.test(code), postgres: /from "pg"/.test(code) };
}

/** A file name for the sample: its page and line, as letters, digits and dashes. */
export function fileNameOf(sample: Sample): string {
  return `${sample.page.replace(/\.md$/, "").replace(/[^A-Za-z0-9]+/g, "-")}-${sample.line}.ts`;
}

/** Writes `text` to `path`, creating its directory. */
export function writeSample(path: string, text: string): void {
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, text);
}

/**
 * Type-checks sample files as written (package imports unchanged) with the repository's compiler
 * options. The files sit inside the repository, so the package's import paths resolve as in a
 * user's project: through its exports, to the declarations `npm run build` wrote in dist/ (which
 * checks those too, and costs a fraction of compiling the sources again). Returns one line per
 * error, naming the page and line it comes from.
 */
export function typeErrorsOf(files: ReadonlyMap<string, Sample>): string[] {
  const configPath = join(root, "tsconfig.json");
  const config = ts.parseJsonConfigFileContent(ts.readConfigFile(configPath, (path) => ts.sys.readFile(path)).config, ts.sys, root);
  const program = ts.createProgram([...files.keys()], { ...config.options, noEmit: true });
  const errors: string[] = [];
  for (const [file, sample] of files) {
    const sourceFile = program.getSourceFile(file);
    if (sourceFile === undefined) {
      errors.push(`${sample.page}:${sample.line}: not compiled`);
      continue;
    }
    for (const diagnostic of [...program.getSyntacticDiagnostics(sourceFile), ...program.getSemanticDiagnostics(sourceFile)]) {
      const line = diagnostic.start === undefined ? 0 : sourceFile.getLineAndCharacterOfPosition(diagnostic.start).line;
      errors.push(`${sample.page}:${sample.line + line}: ${ts.flattenDiagnosticMessageText(diagnostic.messageText, "\n")}`);
    }
  }
  return errors;
}

/** `path` relative to the repository's root, for messages. */
export const fromRoot = (path: string): string => relative(root, path);
export const repositoryRoot: string = root;
