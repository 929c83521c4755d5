/**
 * A benchmark's stored inputs and the reused-id check, called by both the CLI (before it starts
 * anything) and the distribute activity (which writes them): the same benchmark id with the same
 * inputs resumes, with other inputs it is refused.
 */
import { InputError } from '../core/errors';
import { toJson } from '../core/json';
import { layout } from '../core/layout';
import { benchmarkConfigOf, type BenchmarkRequest } from '../core/spec';

/** The part of an artifact store the check reads (ArtifactStore fits). */
export interface InputsStore {
  get(key: string): Promise<Buffer | undefined>;
  urlOf(key: string): string;
}

/** The inputs as stored under the benchmark folder, [key, content]; config.json last, so its presence means all are there. */
export function inputObjects(req: BenchmarkRequest): [string, string][] {
  const id = req.benchmarkId;
  return [
    [layout.testCases(id), req.testCases.content],
    ...(req.configs ? [[layout.configs(id), req.configs.content] as [string, string]] : []),
    [layout.jobTemplate(id), req.jobFile.content],
    [layout.config(id), toJson(benchmarkConfigOf(req))],
  ];
}

/** The location of the first stored input that differs from the request, if the benchmark id was used before. */
export async function findInputConflict(store: InputsStore, req: BenchmarkRequest): Promise<string | undefined> {
  for (const [key, content] of inputObjects(req)) {
    const existing = await store.get(key);
    if (existing && !existing.equals(Buffer.from(content))) return store.urlOf(key);
  }
  return undefined;
}

/** The refusal of a reused benchmark id whose stored input at `location` differs. */
export function inputConflictError(benchmarkId: string, location: string): InputError {
  return new InputError(
    `benchmark "${benchmarkId}" already exists with different inputs (${location} differs): choose a new benchmark id, or give the same inputs to resume it`,
    { flag: '--benchmark-id' },
  );
}

/** Refuses a reused benchmark id with other inputs. */
export async function checkInputsMatch(store: InputsStore, req: BenchmarkRequest): Promise<void> {
  const conflict = await findInputConflict(store, req);
  if (conflict) throw inputConflictError(req.benchmarkId, conflict);
}
