/**
 * Benchmarks measure the compiled build in dist/ — what `npx vigil`, the workers and the Docker image
 * run — not the TypeScript sources through tsx, whose helpers (esbuild's keepNames wrappers) make
 * hot JavaScript several times slower (text scanning: 7.4 µs vs 2.1 µs a message). `npm run bench`
 * builds first. Types still come from the sources: `built<typeof import(...)>` via `import type`.
 */
export async function built<T>(module: string): Promise<T> {
  return (await import(new URL(`../dist/src/${module}`, import.meta.url).href)) as T;
}

/** `--name N` from a benchmark's arguments: a positive integer, or the default. */
export function intArg(args: readonly string[], name: string, dflt: number): number {
  const i = args.indexOf(`--${name}`);
  const v = i >= 0 ? Number(args[i + 1]) : dflt;
  if (!Number.isInteger(v) || v <= 0) throw new Error(`--${name} must be a positive integer`);
  return v;
}
