import { getJson, type ArtifactStore } from '../artifacts/store';
import { layout } from '../core/layout';
import type { JobSpec } from '../core/spec';

/** Every VM's job spec of a benchmark (<id>/jobs/<vm>.json), as distribute wrote them. */
export async function readJobSpecs(store: ArtifactStore, benchmarkId: string): Promise<JobSpec[]> {
  const keys = (await store.list(layout.jobsPrefix(benchmarkId))).filter((k) => k.endsWith('.json'));
  const specs = await Promise.all(keys.map((k) => getJson<JobSpec>(store, k)));
  return specs.filter((s): s is JobSpec => s !== undefined);
}
