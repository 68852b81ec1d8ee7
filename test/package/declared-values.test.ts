import { join } from "node:path";
import { pathToFileURL, fileURLToPath } from "node:url";
import ts from "typescript";
import { describe, expect, it } from "vitest";

// The bundler of declaration files can turn a type-only export into a value (it once made
// `Foundry` a class to import, which ESM then failed to link): every value the built declarations
// export, a class, function or constant, must be there at run time, and nothing more.
const root = fileURLToPath(new URL("../..", import.meta.url));
const entries = ["index", "persistence/index", "persistence/testing", "persistence/file", "persistence/sqlite", "persistence/postgres", "persistence/redis", "otel/index"];

function declaredValues(checker: ts.TypeChecker, file: ts.SourceFile): string[] {
  const module = checker.getSymbolAtLocation(file);
  if (module === undefined) throw new Error(`${file.fileName} declares no module`);
  return checker
    .getExportsOfModule(module)
    .filter((symbol) => {
      const target = symbol.flags & ts.SymbolFlags.Alias ? checker.getAliasedSymbol(symbol) : symbol;
      return (target.flags & ts.SymbolFlags.Value) !== 0;
    })
    .map((symbol) => symbol.name)
    .sort();
}

describe("the built declaration files", () => {
  const files = entries.map((entry) => join(root, "dist", `${entry}.d.ts`));
  const program = ts.createProgram(files, { noLib: true, types: [], noEmit: true });
  const checker = program.getTypeChecker();

  it.each(entries.map((entry) => ({ entry })))("dist/$entry: the declarations export as values exactly what the module exports", async ({ entry }) => {
    const file = program.getSourceFile(join(root, "dist", `${entry}.d.ts`));
    if (file === undefined) throw new Error(`dist/${entry}.d.ts is missing: run npm run build first`);
    const loaded = (await import(pathToFileURL(join(root, "dist", `${entry}.js`)).href)) as Record<string, unknown>;
    expect(declaredValues(checker, file)).toEqual(Object.keys(loaded).sort());
  });
});
