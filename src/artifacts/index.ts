import { GcsArtifactStore, type GcsArtifactStoreOptions } from './gcs';
import { LocalArtifactStore } from './local';
import type { ArtifactStore } from './store';

export type { ArtifactStore } from './store';
export type { GcsArtifactStoreOptions } from './gcs';

/**
 * Opens the artifact store at a location: a local folder, or gs://bucket[/prefix].
 * `gcs` options apply to gs:// locations only (e.g. `{ storage: { apiEndpoint } }` for an emulator;
 * STORAGE_EMULATOR_HOST=http://host:port is honoured as the Storage client reads it).
 */
export function openArtifactStore(location: string, gcs?: GcsArtifactStoreOptions): ArtifactStore {
  if (location.startsWith('gs://')) return new GcsArtifactStore(location, gcs);
  return new LocalArtifactStore(location);
}
