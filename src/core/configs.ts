import { parseCsvTable } from './csv';
import { InputError } from './errors';
import { checkSafeId } from './ids';
import { checkGitRef, splitMountArgs } from './mount-args';

/** One gcsfuse variant to benchmark: a commit and its mount flags. */
export interface MountConfig {
  label: string;
  commit: string;
  /** As written, for reports. */
  mountArgs: string;
  /** Split into argv words; never joined back into a shell line. */
  mountArgv: string[];
}

export const CONFIG_COLUMNS = ['commit', 'mount_args', 'label'] as const;

export function parseMountConfigsCsv(text: string, file: string): MountConfig[] {
  const { header, headerLine, records } = parseCsvTable(text, file);
  for (const column of header) {
    if (!(CONFIG_COLUMNS as readonly string[]).includes(column)) {
      throw new InputError(`unknown column "${column}"; a configs CSV has the columns ${CONFIG_COLUMNS.join(', ')}`, {
        file,
        line: headerLine,
        column,
      });
    }
  }
  for (const column of CONFIG_COLUMNS) {
    if (!header.includes(column)) throw new InputError(`column "${column}" is missing`, { file, line: headerLine, column });
  }
  const labels = new Map<string, number>();
  return records.map(({ row, line, values }) => {
    const label = checkSafeId(values.label ?? '', 'label', { file, row, line, column: 'label' });
    const earlier = labels.get(label);
    if (earlier !== undefined)
      throw new InputError(`label "${label}" is used by row ${earlier} already`, { file, row, line, column: 'label' });
    labels.set(label, row);
    const commit = checkGitRef(values.commit ?? '', { file, row, line, column: 'commit' });
    const mountArgs = values.mount_args ?? '';
    const mountArgv = splitMountArgs(mountArgs, { file, row, line, column: 'mount_args' });
    return { label, commit, mountArgs, mountArgv };
  });
}

/** The single config used when no configs CSV is given. */
export function defaultMountConfig(commit: string, mountArgs: string): MountConfig {
  return {
    label: 'default',
    commit: checkGitRef(commit, { flag: '--gcsfuse-commit' }),
    mountArgs,
    mountArgv: splitMountArgs(mountArgs, { flag: '--gcsfuse-mount-args' }),
  };
}
