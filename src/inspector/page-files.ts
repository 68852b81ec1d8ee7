import { readFile } from "node:fs/promises";

/** The page's files, by the path the server answers them at, with their content type. */
export interface PageFile {
  readonly type: string;
  readonly body: string;
}

const script = "text/javascript; charset=utf-8";
const files = [
  ["/", "index.html", "text/html; charset=utf-8"],
  ["/app.css", "app.css", "text/css; charset=utf-8"],
  ["/app.js", "app.js", script],
  ["/dom.js", "dom.js", script],
  ["/rows.js", "rows.js", script],
  ["/instance.js", "instance.js", script],
  ["/actions.js", "actions.js", script],
  ["/values.js", "values.js", script],
  ["/keys.js", "keys.js", script],
] as const;

// From the sources the page sits beside this module (src/inspector/page/); the build bundles this
// module into dist/cli.js and copies the page to dist/inspector/page/.
const folders = [new URL("./page/", import.meta.url), new URL("./inspector/page/", import.meta.url)];

async function readPageFile(name: string): Promise<string> {
  for (const folder of folders) {
    try {
      return await readFile(new URL(name, folder), "utf8");
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== "ENOENT") throw error;
    }
  }
  throw new Error(`the inspector's page file ${name} is missing (looked in ${folders.map((folder) => folder.pathname).join(" and ")}); rebuild the package`);
}

/** The page's files, the token written into the HTML (a hex string, so nothing to escape). */
export async function loadPage(token: string): Promise<ReadonlyMap<string, PageFile>> {
  const loaded = await Promise.all(files.map(async ([path, name, type]) => [path, { type, body: await readPageFile(name) }] as const));
  return new Map(loaded.map(([path, file]) => [path, path === "/" ? { type: file.type, body: file.body.replace("__WORKFLOWFORGE_TOKEN__", token) } : file]));
}
