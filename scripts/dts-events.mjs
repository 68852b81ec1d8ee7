// npm run build, after tsup: extensions of this package add their events to the engine's
// FoundryEvents by declaration merging (`declare module "../events.js"` in src/). The bundler of
// declaration files drops such an augmentation, so this copies it into the declarations of the
// entry point that owns it, aimed at "workflowforge" (which re-exports FoundryEvents). Then
// `foundry.on("snapshotSaved", …)` is typed wherever workflowforge/persistence is imported.
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

const root = fileURLToPath(new URL("../", import.meta.url));

// The source that declares the events, and the declaration files of the entry point exporting them.
const augmentations = [{ source: "src/persistence/events.ts", entry: "dist/persistence/index" }];

for (const { source, entry } of augmentations) {
  const text = readFileSync(join(root, source), "utf8");
  const block = /^declare module "\.\.\/events\.js" \{\n[\s\S]*?^\}\n/m.exec(text)?.[0];
  if (block === undefined) throw new Error(`${source}: no \`declare module "../events.js" { … }\` block to copy`);
  const exported = [...text.matchAll(/^export (?:interface|type) (\w+)/gm)].map((match) => match[1]);
  for (const [extension, self] of [[".d.ts", "./index.js"], [".d.cts", "./index.cjs"]]) {
    const path = join(root, `${entry}${extension}`);
    if (!existsSync(path)) throw new Error(`${path} is missing: run tsup first`);
    const declarations = readFileSync(path, "utf8");
    const marker = `// FoundryEvents added by ${source}`;
    if (declarations.includes(marker)) continue;
    let augmentation = block.replace('declare module "../events.js"', 'declare module "workflowforge"');
    for (const name of exported) augmentation = augmentation.replace(new RegExp(`\\b${name}\\b`, "g"), `import("${self}").${name}`);
    writeFileSync(path, `${declarations}\n${marker}\n${augmentation}`);
  }
}
