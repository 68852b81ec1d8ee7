import type { WorkflowExecutionSnapshot } from "../snapshot.js";
import { isRecentTimelineText } from "../timeline.js";
import { plainJson } from "./plain.js";
import { writeValue } from "./encode.js";

// Characters JSON.stringify writes as they are, and all a stored timeline holds ("12,40,1;,,0"):
// the digits and , - . / : ; between U+002C and U+003B.
const quiet = /^[,-;]*$/;

/**
 * The JSON body of `snapshot`, exactly as {@link writeValue} writes it, except that a plain
 * snapshot's timeline comes last. The timeline is most of a long run's snapshot (four or more
 * characters per operation), and JSON.stringify reads a string a character at a time looking for
 * something to escape, which costs more than copying the snapshot's other fields into an object
 * without it, even for a timeline of a few operations; one regular expression proves there is
 * nothing to escape in a fraction of that (or none, for a text a Timeline here just made), and the
 * text is then spliced in as it is.
 */
export function writeSnapshotBody(snapshot: WorkflowExecutionSnapshot): string {
  const timeline: unknown = snapshot.timeline;
  if (typeof timeline !== "string" || !plainJson(snapshot, 1) || !(isRecentTimelineText(timeline) || quiet.test(timeline))) return writeValue(snapshot);
  // Plain JSON holds no undefined, so JSON.stringify leaves out exactly the one set here.
  const rest = JSON.stringify({ ...snapshot, timeline: undefined });
  if (rest.length <= 2) return writeValue(snapshot);
  return `${rest.slice(0, -1)},"timeline":"${timeline}"}`;
}
