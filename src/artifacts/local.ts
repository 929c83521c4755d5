import { randomBytes } from 'node:crypto';
import { promises as fs, readFile, type Dirent } from 'node:fs';
import path from 'node:path';
import { checkKey, WriteConflictError, type ArtifactStore } from './store';

/** Artifacts in a local folder: the embedded default, shared by local agents. */
export class LocalArtifactStore implements ArtifactStore {
  readonly root: string;
  constructor(root: string) {
    this.root = path.resolve(root);
  }

  urlOf(key: string): string {
    return path.join(this.root, checkKey(key));
  }

  // async: an invalid key rejects, as the interface's other stores do, instead of throwing at the call.
  async get(key: string): Promise<Buffer | undefined> {
    const file = this.urlOf(key);
    // The callback readFile: fs.promises' FileHandle path costs 2-3x its CPU per small file
    // (aggregate reads tens of thousands of them).
    return new Promise((resolve, reject) =>
      readFile(file, (err, data) => (err ? (err.code === 'ENOENT' ? resolve(undefined) : reject(err)) : resolve(data))),
    );
  }

  /** Writes a temporary file beside the target, so the final step is one atomic link or rename. */
  private async writeTemp(file: string, data: Buffer | string): Promise<string> {
    await fs.mkdir(path.dirname(file), { recursive: true });
    const tmp = `${file}.tmp-${process.pid}-${randomBytes(4).toString('hex')}`;
    try {
      await fs.writeFile(tmp, data);
    } catch (err) {
      // A full disk leaves a partly written file: never leave it behind.
      await fs.rm(tmp, { force: true });
      throw err;
    }
    return tmp;
  }

  async putOnce(key: string, data: Buffer | string): Promise<'created' | 'unchanged'> {
    const file = this.urlOf(key);
    const tmp = await this.writeTemp(file, data);
    try {
      await fs.link(tmp, file); // fails with EEXIST rather than replacing: create-only, atomically
      return 'created';
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      const existing = await fs.readFile(file);
      if (existing.equals(Buffer.isBuffer(data) ? data : Buffer.from(data))) return 'unchanged';
      throw new WriteConflictError(key, file);
    } finally {
      await fs.rm(tmp, { force: true });
    }
  }

  async put(key: string, data: Buffer | string): Promise<void> {
    const file = this.urlOf(key);
    const tmp = await this.writeTemp(file, data);
    try {
      await fs.rename(tmp, file);
    } catch (err) {
      await fs.rm(tmp, { force: true });
      throw err;
    }
  }

  async list(prefix: string): Promise<string[]> {
    const base = path.join(this.root, prefix.endsWith('/') ? prefix : path.dirname(prefix));
    const out: string[] = [];
    const walk = async (dir: string): Promise<void> => {
      let names: Dirent[];
      try {
        names = await fs.readdir(dir, { withFileTypes: true });
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'ENOENT') return;
        throw err;
      }
      for (const d of names) {
        const full = path.join(dir, d.name);
        if (d.isDirectory()) await walk(full);
        else if (!d.name.includes('.tmp-')) out.push(path.relative(this.root, full).split(path.sep).join('/'));
      }
    };
    await walk(base);
    return out.filter((k) => k.startsWith(prefix)).sort();
  }
}
