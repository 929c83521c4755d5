/**
 * The orchestrator worker precompiled to JavaScript, to run on plain Node without the tsx loader.
 * tsx costs every process it starts ~37 MiB (its module hooks run on a loader thread), and the
 * worker's workflow thread inherits it too; bench/orchestrator-memory.ts measures both forms.
 *
 * One ES module per entry plus chunks (esbuild, `splitting`), packages left to node_modules, so
 * what the worker imports at first use (Compute Engine, the report's libraries) stays lazy.
 * Kept per content hash of the code (src/shared/build.ts sourceHashOf), like the workflow bundle,
 * so a start after a code change builds anew (~2-3 s) instead of running stale code. Old builds
 * are left in place: a worker still running one loads its lazy chunks from there.
 *
 *   npx tsx src/workers/build-js.ts     # builds (if needed) and prints the path for the current code
 *   node <that path> --artifacts <dir-or-gs-url> ...
 */
import { existsSync, mkdirSync, renameSync, rmSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { findRepoRoot, sourceHashOf } from '../shared/build';

const REPO = findRepoRoot();
/** Inside the checkout: the worker finds its sources and node_modules by walking up from there. */
export const PRECOMPILED_ROOT = path.join(REPO, '.gcsfuse-bench', 'dist');

/** Where the precompiled worker of code with this source hash lives. */
export const precompiledPath = (hash: string): string => path.join(PRECOMPILED_ROOT, `orchestrator-${hash}`, 'orchestrator.mjs');

/** The precompiled worker of the current code, built first if it is not there yet. */
export async function precompiledOrchestrator(): Promise<string> {
  const file = precompiledPath(sourceHashOf(REPO));
  if (!existsSync(file)) await buildPrecompiledOrchestrator(path.dirname(file));
  return file;
}

/**
 * Compiles src/workers/orchestrator.ts and what it imports into `outDir` (a new folder), which
 * must lie inside the checkout (the worker finds its sources and node_modules from there).
 */
export async function buildPrecompiledOrchestrator(outDir: string): Promise<string> {
  // esbuild comes with tsx; imported here so the worker never loads it.
  const { build } = await import('esbuild');
  const tmp = `${outDir}.tmp-${process.pid}`;
  rmSync(tmp, { recursive: true, force: true });
  try {
    await build({
      entryPoints: { orchestrator: path.join(REPO, 'src', 'workers', 'orchestrator.ts') },
      bundle: true,
      splitting: true, // dynamic imports become chunks loaded at first use, as under tsx
      format: 'esm',
      platform: 'node',
      target: 'node20',
      packages: 'external',
      outdir: tmp,
      outExtension: { '.js': '.mjs' },
      logLevel: 'warning',
    });
    mkdirSync(path.dirname(outDir), { recursive: true });
    try {
      renameSync(tmp, outDir); // whole or not at all: a concurrent start sees no half-written build
    } catch (err) {
      // A concurrent build of the same code got there first (its folder is never replaced: a worker may run from it).
      if (!existsSync(path.join(outDir, 'orchestrator.mjs'))) throw err;
    }
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
  return path.join(outDir, 'orchestrator.mjs');
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  precompiledOrchestrator().then(
    (file) => console.log(file), // the path alone: `node "$(tsx src/workers/build-js.ts)"` starts it
    (err) => {
      console.error(err);
      process.exit(1);
    },
  );
}
