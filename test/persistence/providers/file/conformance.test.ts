import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import * as vitest from "vitest";
import { FilePersistenceProvider, type FileDurability } from "../../../../src/persistence/providers/file/index.js";
import { describeProviderConformance } from "../../../../src/persistence/testing/index.js";

// The kit once per durability, each in its own temporary directory, removed after the suite. The
// providers of one suite share the directory, as the processes of one deployment would.
for (const durability of ["fsync", "none"] as const satisfies readonly FileDurability[]) {
  let directory = "";
  describeProviderConformance(
    {
      name: `FilePersistenceProvider (durability "${durability}")`,
      beforeAll: async () => {
        directory = await mkdtemp(join(tmpdir(), `workflowforge-file-${durability}-`));
      },
      afterAll: () => rm(directory, { recursive: true, force: true }),
      create: () => new FilePersistenceProvider({ directory, durability }),
      // Another process's view: a provider object of its own on the same directory.
      reopen: () => new FilePersistenceProvider({ directory, durability }),
      // The header line stays (it names the keys), the snapshot after it is damaged.
      corrupt: async (keys) => {
        const path = join(directory, FilePersistenceProvider.fileNameFor(keys.foundryExecutionId, keys.workflowId));
        const [header] = (await readFile(path, "utf8")).split("\n");
        await writeFile(path, `${header}\nnot a snapshot`);
      },
    },
    vitest,
  );
}
