import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach } from "vitest";

/** The temporary folder of the running test; see {@link useTempDirectory}. */
export interface TempDirectory {
  readonly path: string;
}

/**
 * Gives every test of the calling file (or describe block) a fresh folder under the OS's temporary
 * directory, named after `label`, removed after the test. Registers a beforeEach and an afterEach;
 * `cleanup` runs first in the afterEach (closing what still holds files in the folder).
 */
export function useTempDirectory(label: string, cleanup?: () => void): TempDirectory {
  let path = "";
  beforeEach(() => {
    path = mkdtempSync(join(tmpdir(), `workflowforge-${label}-`));
  });
  afterEach(() => {
    cleanup?.();
    rmSync(path, { recursive: true, force: true });
  });
  return {
    get path() {
      return path;
    },
  };
}
