import assert from "node:assert/strict";
import type { SnapshotKeys } from "../errors.js";
import type { WorkflowPersistenceProvider } from "../provider.js";
import type { WorkflowExecutionSnapshot } from "../snapshot.js";
import type { ConformanceCase } from "./cases.js";
import { eachAtMost, fullSnapshot, randomKeys } from "./fixtures.js";

// Keys are opaque strings of any characters: every one of these must come back as itself from
// tryLoad and list, and no two may share a record. Each is tried as the instance key and as the
// workflow key.

const awkwardKeys = ["__proto__", "constructor", "é✓ 漢字 🚀", "a/b\\c", "../../etc/passwd", "..", "nul\u0000byte", "x".repeat(1000), " "];

// A UTF-8 store has no spelling for a lone surrogate: a careless one turns each into U+FFFD (so
// the first four of these read back alike) or garbles them. The last two are how a store that
// escapes such keys might spell the first: as JSON behind a U+FFFF marker, or as a \u escape.
const loneSurrogates = ["a\uD800", "a\uDC00", "a\uFFFD", "Zoë 😀".slice(0, 5), "\uDE00", "\uDE00\uD83D", '\uFFFF"a\\ud800"', "a\\ud800"];

// Path, URL and escape syntax, a key that is only NUL, and keys that print as nothing.
const pathsAndBlanks = [".", "..", "/", "\\", "a/../b", "C:\\", "%", "%2F", "%00", "%25", "\u0000", "\\u0000", "*", "?", "CON", "\u202Eevil"];
const blanks = ["  ", "\t", "\n", "\r\n", "\u00A0", "\u3000", "\u200B", "\uFEFF"];

// 4,000 characters, in pairs that differ only at the end: a store that cuts or hashes long keys
// carelessly makes each pair one record. The second pair is mostly three-byte UTF-8.
const longKeys = ["k".repeat(3999) + "1", "k".repeat(3999) + "2", "é✓漢".repeat(1333) + "a", "é✓漢".repeat(1333) + "b"];

// The same text composed (NFC) and decomposed (NFD), and the Angstrom sign, which NFC turns into Å:
// a store that normalises keys merges each group into one record.
const normalisation = ["\u00E9", "e\u0301", "\u00C5", "A\u030A", "\u212B", "\uD55C", "\u1112\u1161\u11AB"];

// Keys a case-insensitive store keeps as one: a SQL collation ending in _ci, the file system of macOS
// or Windows, an index on lower(key). Accent-insensitive collations merge e and é too, and SQL
// Server and PAD SPACE collations compare "a" and "a " as equal.
const caseAndCollation = ["order-42", "Order-42", "ORDER-42", "a", "A", "e", "E", "\u00E9", "a ", "A  "];

const load = async (provider: WorkflowPersistenceProvider, keys: SnapshotKeys) => (await provider.tryLoad(keys.foundryExecutionId, keys.workflowId)) ?? undefined;

// JSON escapes lone surrogates and control characters, so a message shows which key went wrong.
const show = (keys: SnapshotKeys): string => JSON.stringify([keys.foundryExecutionId.slice(0, 40), keys.workflowId.slice(0, 40)]);
const pairOf = (snapshot: WorkflowExecutionSnapshot): string => JSON.stringify([snapshot.foundryExecutionId, snapshot.workflowId]);

async function listed(provider: WorkflowPersistenceProvider, filter: { workflowName: string; workflowId?: string }): Promise<string[]> {
  const found: string[] = [];
  for await (const snapshot of await provider.list!(filter)) found.push(pairOf(snapshot));
  return found.sort();
}

/** Which of `stored` are gone (as show() prints them): a tryLoad of each, a few at a time. */
async function missing(provider: WorkflowPersistenceProvider, stored: readonly WorkflowExecutionSnapshot[]): Promise<string[]> {
  const gone: WorkflowExecutionSnapshot[] = [];
  await eachAtMost(stored, 8, async (snapshot) => {
    if ((await load(provider, snapshot)) === undefined) gone.push(snapshot);
  });
  return stored.filter((snapshot) => gone.includes(snapshot)).map(show);
}

// Which keys the snapshot tryLoad returned was saved under, as its properties say.
const savedUnder = (loaded: WorkflowExecutionSnapshot | undefined): string =>
  loaded === undefined ? "nothing" : `the snapshot saved under ${typeof loaded.properties.pair === "string" ? loaded.properties.pair : "other keys"}: the store keeps the two pairs of keys as one record`;

/** Saves the first revision under keys no snapshot of the case has; a refusal names the keys the store took them for. */
async function saveAsNew(provider: WorkflowPersistenceProvider, snapshot: WorkflowExecutionSnapshot): Promise<void> {
  try {
    await provider.save(snapshot);
  } catch (error) {
    // A compare-and-set store refuses revision 1 where it finds a record: one saved under other keys,
    // which tryLoad returns, or refuses as carrying other keys when it checks them.
    const found = await load(provider, snapshot).then(
      (loaded) => (loaded === undefined || loaded.properties.pair === pairOf(snapshot) ? undefined : `returns ${savedUnder(loaded)}`),
      (thrown: unknown) => `rejects (${String(thrown)}): the store seems to keep them as the keys of a record saved earlier under others`,
    );
    if (found === undefined) throw error;
    throw new assert.AssertionError({ message: `save${show(snapshot)} of a first revision was refused (${String(error)}), and tryLoad of those keys ${found}` });
  }
}

/**
 * Saves one snapshot per key in each position, then checks that tryLoad returns each as saved,
 * that list (when declared) returns every key pair exactly, also when filtered by an odd workflow
 * key, and that delete removes each and nothing else.
 */
async function keysRoundTrip(provider: WorkflowPersistenceProvider, keys: readonly string[]): Promise<void> {
  const { foundryExecutionId: suffix } = randomKeys("keys");
  const workflowName = `Keys-${suffix}`;
  const snapshots = keys.flatMap((key) => [
    fullSnapshot({ workflowName, foundryExecutionId: key, workflowId: `w-${suffix}` }),
    fullSnapshot({ workflowName, foundryExecutionId: `i-${suffix}`, workflowId: key }),
  ]);
  for (const snapshot of snapshots) await saveAsNew(provider, { ...snapshot, properties: { pair: pairOf(snapshot) } });
  for (const snapshot of snapshots) {
    const loaded = await load(provider, snapshot);
    const other = loaded?.properties.pair === pairOf(snapshot) ? "" : `, but returned ${savedUnder(loaded)}`;
    assert.deepEqual(loaded, { ...snapshot, properties: { pair: pairOf(snapshot) } }, `tryLoad${show(snapshot)} must return the snapshot saved under exactly those keys${other}`);
  }
  const listing = provider.capabilities?.list === true && typeof provider.list === "function";
  if (listing) {
    assert.deepEqual(await listed(provider, { workflowName }), snapshots.map(pairOf).sort(), "list() must return every key pair as it was saved, each once");
    for (const key of keys) {
      const expected = [JSON.stringify([`i-${suffix}`, key])];
      assert.deepEqual(await listed(provider, { workflowName, workflowId: key }), expected, `list({ workflowId: ${JSON.stringify(key.slice(0, 40))} }) must return exactly its one snapshot`);
    }
  }
  for (const [index, snapshot] of snapshots.entries()) {
    await provider.delete(snapshot.foundryExecutionId, snapshot.workflowId);
    assert.equal(await load(provider, snapshot), undefined, `delete${show(snapshot)} must remove it`);
    // Every record not yet deleted, after each delete, so that a delete removing others is the one named:
    // n(n-1)/2 loads for n snapshots, 1,128 for the 24 keys of the largest list (a list() per delete
    // costs more on a store that scans every record to list a few).
    const gone = await missing(provider, snapshots.slice(index + 1));
    assert.deepEqual(gone, [], `delete${show(snapshot)} also removed ${gone.join(", ")}`);
  }
  if (listing) assert.deepEqual(await listed(provider, { workflowName }), [], "list() must return nothing once every key pair is deleted");
}

export const keyCases: ConformanceCase[] = [
  {
    group: "keys",
    name: "keys with __proto__, unicode, slashes, .., NUL and 1,000 characters round-trip in both parts",
    async run(provider) {
      const suffix = randomKeys().foundryExecutionId;
      for (const key of awkwardKeys) {
        const asInstance = fullSnapshot({ foundryExecutionId: key, workflowId: `w-${suffix}` });
        const asWorkflow = fullSnapshot({ foundryExecutionId: `i-${suffix}`, workflowId: key });
        for (const snapshot of [asInstance, asWorkflow]) {
          await provider.save(snapshot);
          assert.deepEqual(await load(provider, snapshot), snapshot, `key ${JSON.stringify(key.slice(0, 20))}`);
          await provider.delete(snapshot.foundryExecutionId, snapshot.workflowId);
          assert.equal(await load(provider, snapshot), undefined);
        }
      }
      assert.equal(({} as Record<string, unknown>).revision, undefined, "no prototype was polluted");
    },
  },
  {
    group: "keys",
    name: "keys holding lone surrogates (high, low, reversed) save, load, list and delete as themselves, apart from U+FFFD and from escaped spellings",
    run: (provider) => keysRoundTrip(provider, loneSurrogates),
  },
  {
    group: "keys",
    name: "keys of path and escape syntax (., .., /, backslash, %, %2F, NUL alone) and of blanks only save, load, list and delete as themselves",
    run: (provider) => keysRoundTrip(provider, [...pathsAndBlanks, ...blanks]),
  },
  {
    group: "keys",
    name: "keys of 4,000 characters save, load, list and delete as themselves, and two differing only in the last character stay two instances",
    run: (provider) => keysRoundTrip(provider, longKeys),
  },
  {
    group: "keys",
    name: "keys that differ only in ASCII case, an accent or trailing spaces (as case- and accent-insensitive collations and file systems compare them) stay separate instances",
    run: (provider) => keysRoundTrip(provider, caseAndCollation),
  },
  {
    group: "keys",
    name: "keys that differ only in Unicode normalisation (NFC, NFD, the Angstrom sign) stay separate instances",
    run: (provider) => keysRoundTrip(provider, normalisation),
  },
];
