import { decodeValue, defaultSnapshotCodec, encodeValue, type WorkflowExecutionSnapshot } from "../dist/persistence/index.js";
import { checkpointFixture } from "./checkpoint-fixture.js";
import { measureInterleaved, ratio, verdict, type MeasureOptions, type Side } from "./measure.js";
import type { BenchSection } from "./report.js";

// The built-in codec on the provider benches' snapshots (a 10-key order bag), against
// JSON.stringify and JSON.parse of the same values measured in the same run: what the envelope,
// the checksum and the tags cost on top of the native JSON, which is the floor for a JSON codec.

const targetNs = 10_000;
const options = { unitsPerSample: 20_000, warmupRounds: 3, rounds: 21 } satisfies MeasureOptions;

function cases(snapshots: readonly WorkflowExecutionSnapshot[]) {
  const keys = { foundryExecutionId: snapshots[0]?.foundryExecutionId ?? "", workflowId: snapshots[0]?.workflowId ?? "" };
  const texts = snapshots.map((snapshot) => defaultSnapshotCodec.encode(snapshot));
  const bags = snapshots.map((snapshot) => snapshot.properties);
  const units = snapshots.length;
  const each = (body: (index: number) => unknown): Side => ({
    units,
    run: () => {
      let last: unknown;
      for (let i = 0; i < units; i++) last = body(i);
      return Promise.resolve(last);
    },
  });
  return {
    snapshot: {
      json: each((i) => JSON.parse(JSON.stringify(snapshots[i]))),
      encode: each((i) => defaultSnapshotCodec.encode(snapshots[i] as WorkflowExecutionSnapshot)),
      decode: each((i) => defaultSnapshotCodec.decode(texts[i] as string, keys)),
      codec: each((i) => defaultSnapshotCodec.decode(defaultSnapshotCodec.encode(snapshots[i] as WorkflowExecutionSnapshot), keys)),
    },
    bag: {
      json: each((i) => JSON.parse(JSON.stringify(bags[i]))),
      encode: each((i) => encodeValue(bags[i])),
      decode: each((i) => decodeValue(JSON.stringify(bags[i]))),
      codec: each((i) => decodeValue(encodeValue(bags[i]))),
    },
  };
}

export async function run(): Promise<BenchSection> {
  const fixture = await checkpointFixture("CodecBench");
  const { snapshot, bag } = cases(fixture.snapshots);
  for (const side of [...Object.values(snapshot), ...Object.values(bag)]) await side.run();
  const [whole, value] = await measureInterleaved([snapshot, bag], options);
  if (whole === undefined || value === undefined) throw new Error("no measurement");
  const row = (label: string, result: typeof whole, what: string) => ({
    value: label,
    "encode µs": Math.round(result.encode.median / 10) / 100,
    "decode µs": Math.round(result.decode.median / 10) / 100,
    "encode + decode µs": Math.round(result.codec.median / 10) / 100,
    "spread": `±${(result.codec.spread * 100).toFixed(1)}%`,
    [`JSON.stringify + JSON.parse µs`]: Math.round(result.json.median / 10) / 100,
    "codec / JSON": ratio(result.codec.median / result.json.median),
    what,
  });
  const length = Math.round(fixture.snapshots.reduce((sum, s) => sum + defaultSnapshotCodec.encode(s).length, 0) / fixture.snapshots.length);
  return {
    title: "Snapshot codec: encode and decode (10-key order bag)",
    rows: [
      row("snapshot", whole, "defaultSnapshotCodec: envelope, CRC-32 both ways, shape check on decode"),
      row("bag", value, "encodeValue / decodeValue of the properties alone (decode of the bag's JSON text)"),
    ],
    notes: [
      `Target: encode + decode of a snapshot with the 10-key bag under ${targetNs / 1000} µs: ${verdict(whole.codec.median < targetNs)} (${(whole.codec.median / 1000).toFixed(2)} µs); of the bag alone: ${verdict(value.codec.median < targetNs)} (${(value.codec.median / 1000).toFixed(2)} µs).`,
      `The ${fixture.snapshots.length} snapshots one run of the provider benches saves; encoded, ${length} characters on average. JSON.stringify + JSON.parse of the same object is the native floor.`,
      `Median of ${options.rounds} samples of ${options.unitsPerSample.toLocaleString("en")} values after ${options.warmupRounds} warm-up rounds, all cells interleaved; spread is half the interquartile range of encode + decode.`,
    ],
  };
}
