import { createTemplateCluster, templateVariable } from "./postgres-server.js";

/**
 * The suite's global setup: one initdb for the whole run, which every throw-away server then copies
 * (startPostgres reads the variable; the test workers start after this and inherit it).
 */
export default async function setup(): Promise<() => void> {
  if (process.env[templateVariable] !== undefined) return () => undefined;
  const template = await createTemplateCluster();
  if (template === undefined) return () => undefined;
  process.env[templateVariable] = template.data;
  return () => {
    delete process.env[templateVariable];
    template.remove();
  };
}
