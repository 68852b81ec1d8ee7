// Runs the codec with little stack left. As a worker thread: decodes and encodes the values it is
// sent with a fraction of the thread's stack left, before the codec has run in this thread. As a
// process: tries the codec at every depth of a recursion on its way back up from overflowing the
// stack, to show that running short of stack is an error and never aborts the process.
import { isMainThread, parentPort, workerData } from "node:worker_threads";
import { decodeValue, encodeValue } from "../../src/persistence/index.js";
import { levelsOf, nest, type NestingKindName } from "./codec-nesting.js";

export interface SmallStackCase {
  readonly kind: NestingKindName;
  readonly levels: number;
  readonly text: string;
}

export interface SmallStackRequest {
  readonly cases: readonly SmallStackCase[];
  /** How much of the stack is left when the codec runs: 1/6 is a sixth. */
  readonly stackLeft: number;
}

/** Per case: how many levels came back from decode, and what encode and decode threw, if anything. */
export interface SmallStackResult {
  readonly kind: NestingKindName;
  readonly decodedLevels: number;
  readonly decodeError: string | undefined;
  readonly encodeError: string | undefined;
}

const describe = (error: unknown): string => (error instanceof Error ? `${error.name}: ${error.message.slice(0, 200)}` : String(error));

/**
 * Recurses until the stack overflows, then calls `attempt` on the way back up, at the depth where
 * `stackLeft` of the recursion's frames are unwound: with that share of the stack free.
 */
function withStackLeft(stackLeft: number, attempt: () => void): void {
  let bottom = -1;
  const descend = (depth: number): void => {
    try {
      descend(depth + 1);
    } catch (error) {
      if (!(error instanceof RangeError)) throw error;
      if (bottom < 0) bottom = depth;
    }
    if (depth === bottom - Math.floor(bottom * stackLeft)) attempt();
  };
  descend(0);
}

function smallStack({ cases, stackLeft }: SmallStackRequest): SmallStackResult[] {
  const values = cases.map(({ kind, levels }) => nest(kind, levels));
  const decoded: unknown[] = [];
  const decodeErrors: (string | undefined)[] = [];
  const encodeErrors: (string | undefined)[] = [];
  withStackLeft(stackLeft, () => {
    for (const { text } of cases) {
      try {
        decoded.push(decodeValue(text));
        decodeErrors.push(undefined);
      } catch (error) {
        decoded.push(undefined);
        decodeErrors.push(describe(error));
      }
    }
  });
  withStackLeft(stackLeft, () => {
    for (const value of values) {
      try {
        encodeValue(value);
        encodeErrors.push(undefined);
      } catch (error) {
        encodeErrors.push(describe(error));
      }
    }
  });
  return cases.map(({ kind }, i) => ({
    kind,
    decodedLevels: levelsOf(kind, decoded[i]).levels,
    decodeError: decodeErrors[i],
    encodeError: encodeErrors[i],
  }));
}

/**
 * The codes (or names) of what the codec threw where the stack ran out, and whether it got through
 * higher up. Nothing runs before the recursion, so the codec's first calls come with no stack.
 */
function atTheEdge(levels: number): { thrown: string[]; encoded: boolean; decoded: boolean } {
  // An undefined leaf keeps the value off JSON.stringify's fast path: the walk writes every level.
  const value = nest("object", levels, undefined);
  const thrown = new Set<string>();
  let text: string | undefined;
  let decoded: unknown;
  const descend = (depth: number): void => {
    try {
      descend(depth + 1);
    } catch (error) {
      if (!(error instanceof RangeError)) throw error;
    }
    try {
      text ??= encodeValue(value);
      decoded ??= decodeValue(text);
    } catch (error) {
      // By code: a bundle may rename the library's classes, never their codes.
      thrown.add(error instanceof Error ? ((error as { code?: string }).code ?? error.name) : typeof error);
    }
  };
  descend(0);
  return { thrown: [...thrown], encoded: text === encodeValue(value), decoded: levelsOf("object", decoded).levels === levels };
}

if (!isMainThread) parentPort?.postMessage(smallStack(workerData as SmallStackRequest));
else process.stdout.write(JSON.stringify(atTheEdge(Number(process.argv[2]))));
