import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { SnapshotConflictError, matchesFilter, type ProviderCapabilities, type SnapshotFilter, type WorkflowExecutionSnapshot } from "../../src/persistence/index.js";
import { JsonFileProvider } from "../persistence/crash/json-file-provider.js";

/**
 * The crash tests' JSON file provider with compare-and-set and `list`, enough for the recovery
 * coordinator of one worker process at a time (the check and the write are not atomic together).
 */
export class CasFileProvider extends JsonFileProvider {
  readonly capabilities: ProviderCapabilities = { compareAndSet: true, list: true };

  override save(snapshot: WorkflowExecutionSnapshot): void {
    const stored = this.tryLoad(snapshot.foundryExecutionId, snapshot.workflowId)?.revision ?? 0;
    if (snapshot.revision !== stored + 1) {
      const keys = { foundryExecutionId: snapshot.foundryExecutionId, workflowId: snapshot.workflowId };
      throw new SnapshotConflictError({ keys, call: "save", detail: `revision ${snapshot.revision} was refused: the stored revision is ${stored}` });
    }
    super.save(snapshot);
  }

  list(filter?: SnapshotFilter): Promise<WorkflowExecutionSnapshot[]> {
    const snapshots = readdirSync(this.directory)
      .filter((name) => name.endsWith(".json"))
      .map((name) => JSON.parse(readFileSync(join(this.directory, name), "utf8")) as WorkflowExecutionSnapshot)
      .filter((snapshot) => matchesFilter(snapshot, filter));
    return Promise.resolve(snapshots);
  }
}
