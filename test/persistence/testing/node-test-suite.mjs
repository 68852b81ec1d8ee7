// The conformance kit under node:test, wired as the README tells users to, through the package's
// own exports. conformance-node-test.test.ts runs it with `node --test` and reads its TAP report.
import { after, before, describe, it } from "node:test";
import { MemoryPersistenceProvider } from "workflowforge/persistence";
import { describeProviderConformance } from "workflowforge/persistence/testing";

const framework = {
  describe,
  it,
  beforeAll: (fn, ms) => before(fn, { timeout: ms }),
  afterAll: (fn, ms) => after(fn, { timeout: ms }),
};

describeProviderConformance({ name: "MemoryPersistenceProvider", create: () => new MemoryPersistenceProvider() }, framework);

// The same store declaring no capabilities: its compareAndSet, list and recovery cases must show as skipped.
describeProviderConformance(
  {
    name: "A provider declaring no capabilities",
    create() {
      const memory = new MemoryPersistenceProvider();
      return {
        save: (snapshot, signal) => memory.save(snapshot, signal),
        tryLoad: (instance, workflow, signal) => memory.tryLoad(instance, workflow, signal),
        delete: (instance, workflow, signal) => memory.delete(instance, workflow, signal),
      };
    },
    skip: ["large"],
  },
  framework,
);
