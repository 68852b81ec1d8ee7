import { readFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

/**
 * The version in the nearest package.json above this module: the package's own, both from the
 * built `dist/cli.js` and from the sources. Read at run time rather than imported, so that the
 * bundle does not carry a copy of the whole manifest.
 */
export async function packageVersion(): Promise<string> {
  for (let dir = dirname(fileURLToPath(import.meta.url)); ; dir = dirname(dir)) {
    const text = await readFile(join(dir, "package.json"), "utf8").catch(() => undefined);
    if (text !== undefined) return String((JSON.parse(text) as { version?: unknown }).version);
    if (dirname(dir) === dir) return "unknown";
  }
}
