import type { ProviderCapabilities, WorkflowPersistenceProvider } from "../provider.js";
import type { ConformanceGroup } from "./cases.js";

// Recovery claims instances with compare-and-set and finds them with list(), so it needs both; a
// provider declaring the mailbox has learnt waiting records, so the cases of their claims need it too.
const needs: Readonly<Partial<Record<ConformanceGroup, readonly (keyof ProviderCapabilities)[]>>> = {
  compareAndSet: ["compareAndSet"],
  list: ["list"],
  claim: ["compareAndSet", "claim"],
  timers: ["compareAndSet", "claim", "mailbox"],
  mailbox: ["mailbox"],
  due: ["compareAndSet", "claim", "mailbox"],
  push: ["mailbox", "push"],
  unreadable: ["list"],
  recovery: ["compareAndSet", "list"],
};

/**
 * The capabilities a group depends on that `provider` does not declare, as `capabilities.x` paths.
 * Declared, never probed: a provider that enforces compare-and-set without saying so is not tested on it.
 */
export function missingCapabilities(provider: WorkflowPersistenceProvider, group: ConformanceGroup): string[] {
  return (needs[group] ?? []).filter((capability) => provider.capabilities?.[capability] !== true).map((capability) => `capabilities.${capability}`);
}

/** Why a case was skipped, naming what the provider lacks: shown by the framework beside the test. */
export function missingCapabilityReason(missing: readonly string[]): string {
  return `the provider does not declare ${missing.join(" and ")}`;
}
