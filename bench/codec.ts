import { decodeValue, defaultSnapshotCodec, encodeValue, type WorkflowExecutionSnapshot } from "../dist/persistence/index.js";
import { checkpointFixture } from "./checkpoint-fixture.js";
import { measureSamples, pairedMedian, ratio, summarise, verdict, type MeasureOptions, type Side, type Summary } from "./measure.js";
import type { BenchSection } from "./report.js";

// The built-in codec on the provider benches' snapshots (a 10-key order bag), against
// JSON.stringify and JSON.parse of the same values measured in the same run: what the envelope,
// the checksum and the tags cost on top of the native JSON, which is the floor for a JSON codec.

const target = 1.5;
const options = { unitsPerSample: 10_000, warmupRounds: 3, rounds: 41 } satisfies MeasureOptions;

function cases(snapshots: readonly WorkflowExecutionSnapshot[]) {
  const keys = { foundryExecutionId: snapshots[0]?.foundryExecutionId ?? "", workflowId: snapshots[0]?.workflowId ?? "" };
  const texts = snapshots.map((snapshot) => defaultSnapshotCodec.encode(snapshot));
  const bags = snapshots.map((snapshot) => snapshot.properties);
  // Encoded before the loop, as `texts` are for the snapshot: the decode side times decoding alone.
  const bagTexts = bags.map((bag) => encodeValue(bag));
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
      // json and codec first, so that each round measures the two sides of the target one after the other.
      json: each((i) => JSON.parse(JSON.stringify(snapshots[i]))),
      codec: each((i) => defaultSnapshotCodec.decode(defaultSnapshotCodec.encode(snapshots[i] as WorkflowExecutionSnapshot), keys)),
      encode: each((i) => defaultSnapshotCodec.encode(snapshots[i] as WorkflowExecutionSnapshot)),
      decode: each((i) => defaultSnapshotCodec.decode(texts[i] as string, keys)),
    },
    bag: {
      json: each((i) => JSON.parse(JSON.stringify(bags[i]))),
      codec: each((i) => decodeValue(encodeValue(bags[i]))),
      encode: each((i) => encodeValue(bags[i])),
      decode: each((i) => decodeValue(bagTexts[i] as string)),
    },
  };
}

export async function run(): Promise<BenchSection> {
  const fixture = await checkpointFixture("CodecBench");
  const { snapshot, bag } = cases(fixture.snapshots);
  for (const side of [...Object.values(snapshot), ...Object.values(bag)]) await side.run();
  const samples = await measureSamples([snapshot, bag], options);
  const [whole, value] = samples.map((bySide) => Object.fromEntries(Object.entries(bySide).map(([side, values]) => [side, summarise(values)])) as Record<keyof typeof snapshot, Summary>);
  const [wholeOverJson, valueOverJson] = samples.map((bySide) => pairedMedian(bySide, (at) => at("codec") / at("json")));
  if (whole === undefined || value === undefined || wholeOverJson === undefined || valueOverJson === undefined) throw new Error("no measurement");
  const row = (label: string, result: typeof whole, over: Summary, what: string) => ({
    value: label,
    "encode µs": Math.round(result.encode.median / 10) / 100,
    "decode µs": Math.round(result.decode.median / 10) / 100,
    "encode + decode µs": Math.round(result.codec.median / 10) / 100,
    "spread": `±${(result.codec.spread * 100).toFixed(1)}%`,
    [`JSON.stringify + JSON.parse µs`]: Math.round(result.json.median / 10) / 100,
    "codec / JSON": ratio(over.median),
    what,
  });
  const length = Math.round(fixture.snapshots.reduce((sum, s) => sum + defaultSnapshotCodec.encode(s).length, 0) / fixture.snapshots.length);
  return {
    title: "Snapshot codec: encode and decode (10-key order bag)",
    against: "`JSON.stringify` + `JSON.parse` of the same snapshot",
    rows: [
      row("snapshot", whole, wholeOverJson, "defaultSnapshotCodec: envelope, CRC-32 both ways, shape check on decode"),
      row("bag", value, valueOverJson, "encodeValue / decodeValue of the properties alone (decode of the bag's text, encoded beforehand)"),
    ],
    notes: [
      `Target: encode + decode of a snapshot with the 10-key bag within ${target}× of JSON.stringify + JSON.parse of the same snapshot: ${verdict(wholeOverJson.median <= target)} (${ratio(wholeOverJson.median)}, ±${(wholeOverJson.spread * 100).toFixed(1)}% over rounds); of the bag alone: ${verdict(valueOverJson.median <= target)} (${ratio(valueOverJson.median)}).`,
      `In time: ${(whole.codec.median / 1000).toFixed(2)} µs for the snapshot, ${(value.codec.median / 1000).toFixed(2)} µs for the bag, on this machine in this run. The ratio is taken per round (the two sides measured moments apart), then the median over rounds.`,
      `The ${fixture.snapshots.length} snapshots one run of the provider benches saves; encoded, ${length} characters on average. JSON.stringify + JSON.parse of the same object is the native floor.`,
      `Median of ${options.rounds} samples of ${options.unitsPerSample.toLocaleString("en")} values after ${options.warmupRounds} warm-up rounds, all cells interleaved; spread is half the interquartile range of encode + decode.`,
    ],
  };
}
