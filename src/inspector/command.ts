import type { Output } from "../cli/commands.js";
import { CliError, describeCause } from "../cli/errors.js";
import type { OpenStore } from "../cli/stores.js";
import type { UiOptions } from "./options.js";
import { startInspector } from "./server.js";

/**
 * `ui`: serves the inspector until SIGINT or SIGTERM, then stops listening and resolves with 0
 * (the CLI closes the store after it).
 */
export async function uiCommand(store: OpenStore, options: UiOptions, stdout: Output): Promise<number> {
  const inspector = await startInspector(store, options).catch((error: unknown) => {
    const where = `${options.host.includes(":") ? `[${options.host}]` : options.host}:${options.port}`;
    const hint = (error as { code?: unknown }).code === "EADDRINUSE" ? "; another process listens there: pass another --port, or --port 0 for a free one" : "";
    throw new CliError("REFUSED", `cannot listen on ${where}: ${describeCause(error)}${hint}`, { cause: error });
  });
  const mode = options.allowActions ? "actions allowed (delete, retry a dead letter, cancel, send an event)" : "read-only (pass --allow-actions to delete, retry, cancel or send events)";
  stdout.write(`Inspecting ${store.label}\n${mode}\nOpen ${inspector.url}\nPress Ctrl+C to stop.\n`);
  await new Promise<void>((stop) => {
    const stopped = (): void => {
      process.off("SIGINT", stopped);
      process.off("SIGTERM", stopped);
      stop();
    };
    process.once("SIGINT", stopped);
    process.once("SIGTERM", stopped);
  });
  await inspector.close();
  return 0;
}
