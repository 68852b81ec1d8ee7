import type { SnapshotCodec, WorkflowExecutionSnapshot } from "../../src/persistence/index.js";

/** A codec of another format (a tag, then plain JSON), to show a provider stores and reads what the codec makes. */
export const taggedJsonCodec: SnapshotCodec = {
  encode: (snapshot) => `custom:${JSON.stringify(snapshot)}`,
  decode: (text) => JSON.parse(text.slice("custom:".length)) as WorkflowExecutionSnapshot,
};

/**
 * Writes, through a provider given it, a record whose fields (keys, status, times) are intact and
 * whose text no codec of ours reads: how a test stores a record that cannot be read. Never decodes.
 */
export const unreadableCodec: SnapshotCodec = {
  encode: () => "not an encoded snapshot",
  decode: () => {
    throw new Error("unreadableCodec only writes");
  },
};
