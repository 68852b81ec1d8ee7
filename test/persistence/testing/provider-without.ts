import { MemoryPersistenceProvider, type ProviderCapabilities, type WorkflowPersistenceProvider } from "../../../src/persistence/index.js";

/**
 * A memory provider that declares only `declared`, and counts its saves: a case that was skipped
 * for a capability never reaches the provider.
 */
export function providerDeclaring(declared: ProviderCapabilities = {}): WorkflowPersistenceProvider & { readonly saves: number } {
  const memory = new MemoryPersistenceProvider();
  let saves = 0;
  return {
    capabilities: declared,
    get saves() {
      return saves;
    },
    save: (snapshot, signal) => {
      saves++;
      return memory.save(snapshot, signal);
    },
    tryLoad: (instance, workflow, signal) => memory.tryLoad(instance, workflow, signal),
    delete: (instance, workflow, signal) => memory.delete(instance, workflow, signal),
    list: (filter, signal) => memory.list(filter, signal),
  };
}
