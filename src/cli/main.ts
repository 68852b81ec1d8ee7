#!/usr/bin/env node
import { runCli } from "./run.js";

// `workflowforge list ... | head` closes the pipe early; that is not an error worth a stack trace.
process.stdout.on("error", (error: NodeJS.ErrnoException) => {
  if (error.code === "EPIPE") process.exit(0);
  throw error;
});

// exitCode rather than exit(): pending writes to a pipe are flushed before the process ends.
void runCli(process.argv.slice(2), process).then((code) => {
  process.exitCode = code;
});
