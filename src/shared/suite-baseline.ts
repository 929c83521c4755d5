/** A suite's baseline pointer, pinned by the CLI (`schedule baseline`) and moved by the suite's activities. */
import { getJson, toJson, type ArtifactStore } from '../artifacts/store';
import { InputError } from '../core/errors';
import { layout } from '../core/layout';
import { suiteLayout, type BaselinePointer } from '../core/suite';

/** Pins (or, with null, unpins) a suite's baseline. */
export async function pinBaseline(store: ArtifactStore, suite: string, benchmarkId: string | null): Promise<BaselinePointer | undefined> {
  const key = suiteLayout.baseline(suite);
  if (benchmarkId === null) {
    const current = await getJson<BaselinePointer>(store, key);
    if (!current) return undefined;
    const unpinned = { ...current, pinned: false };
    await store.put(key, toJson(unpinned));
    return unpinned;
  }
  if (!(await store.get(layout.report(benchmarkId, 'results.json')))) {
    throw new InputError(
      `benchmark "${benchmarkId}" has no report in ${store.urlOf(layout.benchmark(benchmarkId))}: only a finished run can be a baseline`,
      { flag: '<benchmark-id>' },
    );
  }
  const pointer: BaselinePointer = { benchmarkId, pinned: true };
  await store.put(key, toJson(pointer));
  return pointer;
}
