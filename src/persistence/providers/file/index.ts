// workflowforge/persistence/file: the file provider and its options.

export { FilePersistenceProvider } from "./provider.js";
export type { FileDurability, FilePersistenceProviderOptions } from "./options.js";
