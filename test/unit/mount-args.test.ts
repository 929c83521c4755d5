import { describe, expect, it } from 'vitest';
import { checkGitRef, splitMountArgs } from '../../src/core/mount-args';
import { expectInputError } from './helpers/input-error';

describe('splitMountArgs', () => {
  it.each([
    ['--implicit-dirs --file-mode=777', ['--implicit-dirs', '--file-mode=777']],
    ['', []],
    ['   ', []],
    ['--a\t--b', ['--a', '--b']],
    ['--log-file "/tmp/my log" --x=\'a b\'', ['--log-file', '/tmp/my log', '--x=a b']],
    ['--a\\ b', ['--a b']],
    ['--only-dir "*"', ['--only-dir', '*']],
    ["--x='a;b|c'", ['--x=a;b|c']],
    ['--a=~/x', ['--a=~/x']],
  ])('splits %j into words', (text, words) => {
    expect(splitMountArgs(text)).toEqual(words);
  });

  const loc = { file: 'configs.csv', row: 2, line: 3, column: 'mount_args' };
  const prefix = 'configs.csv, row 2 (line 3), column "mount_args": ';

  it.each([
    ['--a; rm -rf /', 'shell operator ";"'],
    ['--a | tee x', 'shell operator "|"'],
    ['--a && b', 'shell operator "&&"'],
    ['--a > /etc/passwd', 'shell operator ">"'],
    ['--a < f', 'shell operator "<"'],
    ['--a &', 'shell operator "&"'],
    ['--a (b)', 'shell operator "("'],
    ['--a # note', 'a comment'],
    ['--only-dir *', 'a glob "*"'],
    ['--only-dir dir?', 'a glob "dir?"'],
  ])('refuses %j: %s', (text, what) => {
    expectInputError(() => splitMountArgs(text, loc), loc, prefix, `contain ${what}: only plain flags and values are allowed`);
  });

  it.each(['--a $HOME', '--a ${X}', '--a `id`', '--a "$(id)"'])('refuses shell expansion in %j', (text) => {
    expectInputError(() => splitMountArgs(text, loc), loc, prefix, "contain '$' or '`'");
  });

  it.each(['--a\n--b', '--a\r', '--a\0'])('refuses more than one line: %j', (text) => {
    expectInputError(() => splitMountArgs(text, { flag: '--gcsfuse-mount-args' }), { flag: '--gcsfuse-mount-args' }, '--gcsfuse-mount-args: ', 'must be on one line');
  });
});

describe('checkGitRef', () => {
  it.each(['master', 'v2.4.0', 'feature/faster-reads', 'release_1-2', '0123456789abcdef0123456789abcdef01234567', 'HEAD'])('accepts %j', (ref) => {
    expect(checkGitRef(ref)).toBe(ref);
  });

  it.each(['', '-x', '--upload-pack=evil', '../x', 'a..b', 'a b', 'a;b', '$(id)', 'a\nb', '/abs', 'x'.repeat(201), 'a~1', 'a^', 'a:b'])(
    'refuses %j',
    (ref) => {
      expectInputError(() => checkGitRef(ref, { flag: '--gcsfuse-commit' }), { flag: '--gcsfuse-commit' }, '--gcsfuse-commit: ', 'is not a git commit, tag or branch name');
    },
  );
});
