import type { SnapshotCodec, WorkflowExecutionSnapshot } from "../../src/persistence/index.js";

/** A codec of another format (a tag, then plain JSON), to show a provider stores and reads what the codec makes. */
export const taggedJsonCodec: SnapshotCodec = {
  encode: (snapshot) => `custom:${JSON.stringify(snapshot)}`,
  decode: (text) => JSON.parse(text.slice("custom:".length)) as WorkflowExecutionSnapshot,
};
