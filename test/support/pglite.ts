import { PGlite } from "@electric-sql/pglite";

// PGlite's first start runs initdb in WebAssembly: 3 to 5 seconds of CPU, once per file that needs
// a database. A start from a dump of a fresh database skips it (about one second). Unit files share
// their modules within a worker (isolate: false), so the dump is made once per worker.
let template: Promise<Blob> | undefined;

const dumpOfFresh = async (): Promise<Blob> => {
  const fresh = await PGlite.create();
  try {
    return await fresh.dumpDataDir("none");
  } finally {
    await fresh.close();
  }
};

/** A new, empty PGlite database of its own, as `PGlite.create()` makes one. */
export async function freshPglite(): Promise<PGlite> {
  template ??= dumpOfFresh();
  // A failed dump is made again by the next call, not kept.
  const dump = await template.catch((error: unknown) => {
    template = undefined;
    throw error;
  });
  return PGlite.create({ loadDataDir: dump });
}
