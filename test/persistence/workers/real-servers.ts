import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll } from "vitest";
import { bundleForChild } from "../../support/bundle.js";
import { startPostgres } from "../../support/postgres-server.js";
import { startRedis } from "../../support/redis-server.js";

/**
 * What a worker test file needs: the bundled worker process, a scratch directory, throw-away
 * PostgreSQL and Redis servers (or why they are missing), and cleanup after the file's tests.
 */
export async function workerTestSetup(label: string) {
  const child = bundleForChild(fileURLToPath(new URL("./worker-child.ts", import.meta.url)));
  const root = mkdtempSync(join(tmpdir(), `wf-${label}-`));
  const cleanup: (() => Promise<unknown> | void)[] = [() => rmSync(root, { recursive: true, force: true })];
  afterAll(async () => {
    for (const step of cleanup.reverse()) await step();
  });
  const servers = { postgres: await startPostgres(), redis: await startRedis() } as const;
  for (const server of Object.values(servers)) if (!("skipped" in server)) cleanup.push(() => server.stop());
  return { child, root, cleanup, servers };
}
