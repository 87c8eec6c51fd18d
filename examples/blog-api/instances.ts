/**
 * Starts instances of the blog API as child processes (`main.ts` through
 * tsx), for the load script and the test, by `../shared/instances.ts`: each
 * child holds an IPC channel to this process and exits when it closes, so an
 * instance never outlives the process that started it. Their counters are
 * read with `scrapeMetrics`.
 * @module
 */
import { fileURLToPath } from "node:url";
import { type ApiProcess, type InstanceOptions, type InstanceProgram, startInstance, startInstances } from "../shared/instances";

export { type ApiProcess, scrapeMetrics } from "../shared/instances";

/** Options of {@link startBlogInstance}: the environment `main.ts` reads (`DATABASE_URL`: a database with the blog migrations applied). */
export type BlogInstanceOptions = InstanceOptions;

/** The blog API's `main.ts`. */
const BLOG_API: InstanceProgram = { name: "blog-api", main: fileURLToPath(new URL("./main.ts", import.meta.url)) };

/**
 * Forks `main.ts` on a free port and resolves once it printed its URL.
 * @throws with its output if it exits or stays silent for 60 s first (it is killed then).
 */
export function startBlogInstance(options: BlogInstanceOptions): Promise<ApiProcess> {
  return startInstance(BLOG_API, options);
}

/**
 * Starts `count` instances in parallel with the same options.
 * @throws if one fails to start; the others are stopped first.
 */
export function startBlogInstances(count: number, options: BlogInstanceOptions): Promise<ApiProcess[]> {
  return startInstances(BLOG_API, count, options);
}
