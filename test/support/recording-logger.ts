import { vi } from "vitest";

/** A console-like logger whose calls can be inspected. */
export function recordingLogger() {
  return { debug: vi.fn(), info: vi.fn(), warn: vi.fn(), error: vi.fn() };
}
