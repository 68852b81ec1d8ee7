import { existsSync, mkdirSync, readFileSync, readdirSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { WorkflowExecutionSnapshot, WorkflowPersistenceProvider } from "../../../src/persistence/index.js";

/**
 * A test-only provider: one JSON file per key pair, replaced atomically with write + rename.
 * Enough for crash tests (a SIGKILL leaves the page cache intact); the real file provider is
 * separate.
 */
export class JsonFileProvider implements WorkflowPersistenceProvider {
  constructor(readonly directory: string) {
    mkdirSync(directory, { recursive: true });
  }

  #path(foundryExecutionId: string, workflowId: string): string {
    return join(this.directory, `${encodeURIComponent(foundryExecutionId)}~${encodeURIComponent(workflowId)}.json`);
  }

  save(snapshot: WorkflowExecutionSnapshot): void {
    const target = this.#path(snapshot.foundryExecutionId, snapshot.workflowId);
    const temp = `${target}.${process.pid}.tmp`;
    writeFileSync(temp, JSON.stringify(snapshot));
    renameSync(temp, target);
  }

  tryLoad(foundryExecutionId: string, workflowId: string): WorkflowExecutionSnapshot | undefined {
    const path = this.#path(foundryExecutionId, workflowId);
    return existsSync(path) ? (JSON.parse(readFileSync(path, "utf8")) as WorkflowExecutionSnapshot) : undefined;
  }

  delete(foundryExecutionId: string, workflowId: string): void {
    rmSync(this.#path(foundryExecutionId, workflowId), { force: true });
  }

  /** Every file left in the directory (snapshots and stray temp files). */
  files(): string[] {
    return readdirSync(this.directory);
  }
}
