import { existsSync, mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import ts from "typescript";
import { describe, expect, it } from "vitest";

// Persistence adds its events to the engine's FoundryEvents by declaration merging. The bundler of
// declaration files drops the augmentation, so the build copies it (scripts/dts-events.mjs): this
// type-checks a user's file against the built types, in ESM and CommonJS, as a user's editor would.
const root = fileURLToPath(new URL("../..", import.meta.url));
if (!existsSync(join(root, "dist", "persistence", "index.d.ts"))) {
  throw new Error("dist/ is missing: run npm run build first (npm test builds before it runs vitest)");
}

const consumer = `import { createFoundry } from "workflowforge";
import { usePersistence, MemoryPersistenceProvider } from "workflowforge/persistence";
const foundry = usePersistence(createFoundry("orders"), new MemoryPersistenceProvider());
foundry.on("snapshotSaved", (event) => { const revision: number = event.revision; void revision; });
foundry.on("snapshotRestored", (event) => { const next: number = event.nextOperationIndex; void next; });
foundry.on("snapshotDeleted", (event) => { const key: string = event.workflowId; void key; });
foundry.on("operationSkipped", (event) => { const index: number = event.index; void index; });
// @ts-expect-error: not an event of the foundry
foundry.on("snapshotLost", () => undefined);
`;

describe("the built declaration files", () => {
  it("type persistence's events on foundry.on in ESM and CommonJS", () => {
    // Inside the repository, so that "workflowforge" resolves to dist/ by self-reference.
    const dir = join(root, ".scratch", "extension-events");
    mkdirSync(dir, { recursive: true });
    const files = [join(dir, "consumer.mts"), join(dir, "consumer.cts")];
    for (const file of files) writeFileSync(file, consumer);
    const program = ts.createProgram(files, { module: ts.ModuleKind.NodeNext, moduleResolution: ts.ModuleResolutionKind.NodeNext, strict: true, noEmit: true, types: [] });
    const errors = ts.getPreEmitDiagnostics(program).map((diagnostic) => ts.flattenDiagnosticMessageText(diagnostic.messageText, "\n"));
    expect(errors).toEqual([]);
  });
});
