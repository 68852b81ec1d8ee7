import { pgliteTemplateVariable, writePgliteTemplate } from "./pglite.js";
import { createTemplateCluster, templateVariable } from "./postgres-server.js";

/**
 * The suite's global setup: one initdb for the whole run, which every throw-away server then copies
 * (startPostgres reads the variable; the test workers start after this and inherit it), and beside
 * it one dump of a fresh PGlite database, which every PGlite of the tests loads.
 */
export default async function setup(): Promise<() => void> {
  const [cluster, pglite] = await Promise.all([process.env[templateVariable] === undefined ? createTemplateCluster() : undefined, process.env[pgliteTemplateVariable] === undefined ? writePgliteTemplate() : undefined]);
  if (cluster !== undefined) process.env[templateVariable] = cluster.data;
  if (pglite !== undefined) process.env[pgliteTemplateVariable] = pglite.file;
  return () => {
    if (cluster !== undefined) {
      delete process.env[templateVariable];
      cluster.remove();
    }
    if (pglite !== undefined) {
      delete process.env[pgliteTemplateVariable];
      pglite.remove();
    }
  };
}
