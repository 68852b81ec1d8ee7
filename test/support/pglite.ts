import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { PGlite } from "@electric-sql/pglite";

// PGlite's first start runs initdb in WebAssembly: 3 to 5 seconds of CPU, and on a busy machine
// far more (four workers each running it on two cores once outlasted a two-minute hook). The
// suite's global setup runs it once and leaves a dump of the fresh database in a file named by this
// variable; a start from the dump skips initdb (about one second). Without the variable (a file run
// outside the suite's setup), each worker makes the dump once.
export const pgliteTemplateVariable = "WORKFLOWFORGE_PGLITE_TEMPLATE";

let template: Promise<Blob> | undefined;

const dumpOfFresh = async (): Promise<Blob> => {
  const fresh = await PGlite.create();
  try {
    return await fresh.dumpDataDir("none");
  } finally {
    await fresh.close();
  }
};

const templateOf = async (): Promise<Blob> => {
  const file = process.env[pgliteTemplateVariable];
  return file === undefined ? dumpOfFresh() : new Blob([readFileSync(file)]);
};

/** Writes the dump of a fresh database to a new file; resolves its path and what removes it. */
export async function writePgliteTemplate(): Promise<{ readonly file: string; readonly remove: () => void }> {
  const dir = mkdtempSync(join(tmpdir(), "workflowforge-pglite-"));
  const file = join(dir, "fresh.tar");
  writeFileSync(file, Buffer.from(await (await dumpOfFresh()).arrayBuffer()));
  return { file, remove: () => rmSync(dir, { recursive: true, force: true }) };
}

/** A new, empty PGlite database of its own, as `PGlite.create()` makes one. */
export async function freshPglite(): Promise<PGlite> {
  template ??= templateOf();
  // A failed dump is made again by the next call, not kept.
  const dump = await template.catch((error: unknown) => {
    template = undefined;
    throw error;
  });
  return PGlite.create({ loadDataDir: dump });
}
