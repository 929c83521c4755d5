import { describe, expect, it } from 'vitest';
import { CONFIG_COLUMNS, defaultMountConfig, parseMountConfigsCsv } from '../../src/core/configs';
import { expectInputError } from './helpers/input-error';

describe('parseMountConfigsCsv', () => {
  it('reads commit, mount args and label, splitting the args into words', () => {
    const configs = parseMountConfigsCsv(
      'commit,mount_args,label\nmaster,--implicit-dirs,baseline\nv2.4.0,"--implicit-dirs --stat-cache-max-size-mb=-1 --log-file \'/tmp/a b\'",big-cache\nmaster,,no-flags\n',
      'configs.csv',
    );
    expect(configs).toEqual([
      { label: 'baseline', commit: 'master', mountArgs: '--implicit-dirs', mountArgv: ['--implicit-dirs'] },
      {
        label: 'big-cache',
        commit: 'v2.4.0',
        mountArgs: "--implicit-dirs --stat-cache-max-size-mb=-1 --log-file '/tmp/a b'",
        mountArgv: ['--implicit-dirs', '--stat-cache-max-size-mb=-1', '--log-file', '/tmp/a b'],
      },
      { label: 'no-flags', commit: 'master', mountArgs: '', mountArgv: [] },
    ]);
  });

  it('accepts the columns in any order and case', () => {
    const [c] = parseMountConfigsCsv('Label,Commit,Mount_Args\nx,main,--a\n', 'configs.csv');
    expect(c).toEqual({ label: 'x', commit: 'main', mountArgs: '--a', mountArgv: ['--a'] });
  });

  it('keeps commas inside quoted mount args', () => {
    const [c] = parseMountConfigsCsv('commit,mount_args,label\nmaster,"--o=ro,allow_other",a\n', 'configs.csv');
    expect(c!.mountArgv).toEqual(['--o=ro,allow_other']);
  });

  describe('refuses', () => {
    it('an unknown column', () => {
      expectInputError(
        () => parseMountConfigsCsv('commit,mount_args,label,notes\nm,,a,x\n', 'configs.csv'),
        { file: 'configs.csv', line: 1, column: 'notes' },
        'configs.csv, line 1, column "notes": ',
        `unknown column "notes"; a configs CSV has the columns ${CONFIG_COLUMNS.join(', ')}`,
      );
    });

    it('a missing column, at the header line', () => {
      expectInputError(
        () => parseMountConfigsCsv('# variants\ncommit,mount_args\nmaster,--a\n', 'configs.csv'),
        { file: 'configs.csv', line: 2, column: 'label' },
        'configs.csv, line 2, column "label": ',
        'column "label" is missing',
      );
    });

    it('a duplicate label, naming both rows', () => {
      expectInputError(
        () => parseMountConfigsCsv('commit,mount_args,label\nmaster,,a\nmaster,--x,b\nv1,,a\n', 'configs.csv'),
        { file: 'configs.csv', row: 3, line: 4, column: 'label' },
        'configs.csv, row 3 (line 4), column "label": ',
        'label "a" is used by row 1 already',
      );
    });

    it.each(['../x', 'a/b', '..', '.a', 'a b'])('the unsafe label %j', (label) => {
      expectInputError(
        () => parseMountConfigsCsv(`commit,mount_args,label\nmaster,,"${label}"\n`, 'configs.csv'),
        { file: 'configs.csv', row: 1, line: 2, column: 'label' },
        'configs.csv, row 1 (line 2), column "label": ',
        'is not allowed',
      );
    });

    it('an empty label', () => {
      expectInputError(
        () => parseMountConfigsCsv('commit,mount_args,label\nmaster,--a,\n', 'configs.csv'),
        { file: 'configs.csv', row: 1, line: 2, column: 'label' },
        'configs.csv, row 1 (line 2), column "label": ',
      );
    });

    it.each(['--upload-pack=x', 'a..b', '', 'x y'])('the bad commit %j', (commit) => {
      expectInputError(
        () => parseMountConfigsCsv(`commit,mount_args,label\nmaster,,ok\n"${commit}",,b\n`, 'configs.csv'),
        { file: 'configs.csv', row: 2, line: 3, column: 'commit' },
        'configs.csv, row 2 (line 3), column "commit": ',
        'is not a git commit, tag or branch name',
      );
    });

    it('shell syntax and line breaks in mount args', () => {
      expectInputError(
        () => parseMountConfigsCsv('commit,mount_args,label\nmaster,--a; reboot,x\n', 'configs.csv'),
        { file: 'configs.csv', row: 1, line: 2, column: 'mount_args' },
        'configs.csv, row 1 (line 2), column "mount_args": ',
        'shell operator ";"',
      );
      expectInputError(
        () => parseMountConfigsCsv('commit,mount_args,label\nmaster,"--a\n--b",x\n', 'configs.csv'),
        { file: 'configs.csv', row: 1, line: 3, column: 'mount_args' },
        'configs.csv, row 1 (line 3), column "mount_args": ',
        'must be on one line',
      );
    });
  });
});

describe('defaultMountConfig', () => {
  it('is the single config labelled "default"', () => {
    expect(defaultMountConfig('master', '--implicit-dirs --foo=1')).toEqual({
      label: 'default',
      commit: 'master',
      mountArgs: '--implicit-dirs --foo=1',
      mountArgv: ['--implicit-dirs', '--foo=1'],
    });
  });

  it('names the flag a bad value came from', () => {
    expectInputError(() => defaultMountConfig('../x', ''), { flag: '--gcsfuse-commit' }, '--gcsfuse-commit: ');
    expectInputError(
      () => defaultMountConfig('master', '--a | b'),
      { flag: '--gcsfuse-mount-args' },
      '--gcsfuse-mount-args: ',
      'shell operator "|"',
    );
  });
});
