/**
 * Starts instances of the HTTP API as child processes (`main.ts` through
 * tsx), for the load script and the tests, by `../shared/instances.ts`: each
 * child holds an IPC channel to this process and exits when it closes, so an
 * instance never outlives the process that started it, even one killed with
 * SIGKILL.
 * @module
 */
import { fileURLToPath } from "node:url";
import { type ApiProcess, type InstanceOptions, type InstanceProgram, startInstance as start, startInstances as startMany } from "../shared/instances";

export { type ApiProcess, type InstanceOptions, scrapeMetrics } from "../shared/instances";

/** The HTTP API's `main.ts`. */
const HTTP_API: InstanceProgram = { name: "http-api", main: fileURLToPath(new URL("./main.ts", import.meta.url)) };

/**
 * Forks `main.ts` on a free port and resolves once it printed its URL.
 * @throws with its output if it exits or stays silent for 60 s first (it is killed then).
 */
export function startInstance(options: InstanceOptions): Promise<ApiProcess> {
  return start(HTTP_API, options);
}

/**
 * Starts `count` instances in parallel with the same options.
 * @throws if one fails to start; the others are stopped first.
 */
export function startInstances(count: number, options: InstanceOptions): Promise<ApiProcess[]> {
  return startMany(HTTP_API, count, options);
}
