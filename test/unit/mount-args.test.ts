import { describe, expect, it } from 'vitest';
import {
  checkBucketName,
  checkEndpoint,
  checkGcsfuseMountArgv,
  checkGitRef,
  gcsfuseArgv,
  setsFlag,
  splitMountArgs,
} from '../../src/core/mount-args';
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
    expectInputError(
      () => splitMountArgs(text, { flag: '--gcsfuse-mount-args' }),
      { flag: '--gcsfuse-mount-args' },
      '--gcsfuse-mount-args: ',
      'must be on one line',
    );
  });
});

describe('checkGitRef', () => {
  it.each(['master', 'v2.4.0', 'feature/faster-reads', 'release_1-2', '0123456789abcdef0123456789abcdef01234567', 'HEAD'])(
    'accepts %j',
    (ref) => {
      expect(checkGitRef(ref)).toBe(ref);
    },
  );

  it.each(['', '-x', '--upload-pack=evil', '../x', 'a..b', 'a b', 'a;b', '$(id)', 'a\nb', '/abs', 'x'.repeat(201), 'a~1', 'a^', 'a:b'])(
    'refuses %j',
    (ref) => {
      expectInputError(
        () => checkGitRef(ref, { flag: '--gcsfuse-commit' }),
        { flag: '--gcsfuse-commit' },
        '--gcsfuse-commit: ',
        'is not a git commit, tag or branch name',
      );
    },
  );
});

describe('gcsfuse checks shared by the CLI and the agent', () => {
  const anon = { customEndpoint: undefined, anonymousAccess: true };
  it('refuses an unclosed quote instead of splitting it silently', () => {
    expect(() => splitMountArgs(`--temp-dir 'abc`)).toThrow(/unclosed single quote/);
    expect(() => splitMountArgs('--app-name "x y')).toThrow(/unclosed double quote/);
    expect(splitMountArgs(`--app-name "it's" --x='a"b'`)).toEqual(['--app-name', "it's", '--x=a"b']);
  });

  it('refuses flags that read or write files of the VM, and scratch paths outside the scratch folder', () => {
    for (const [argv, message] of [
      [['--foreground'], /--foreground cannot be given/],
      [['--log-file=/etc/passwd'], /--log-file cannot be given/],
      [['--config-file', '/etc/shadow'], /--config-file cannot be given: it reads a file/],
      [['--key-file=/root/key.json'], /--key-file cannot be given/],
      [['--cache-dir', '/etc'], /--cache-dir "\/etc" must be a relative folder/],
      [['--temp-dir=../../x'], /--temp-dir "..\/..\/x" must be a relative folder/],
      [['--custom-endpoint', 'http://u:p@evil:1/'], /credentials in its URL/],
    ] as const) {
      expect(() => checkGcsfuseMountArgv(argv, {}, 'c1'), argv.join(' ')).toThrow(message);
    }
    expect(() =>
      checkGcsfuseMountArgv(['--cache-dir', 'cache', '--file-cache-max-size-mb=100', '--temp-dir=tmp/a'], {}, 'c1'),
    ).not.toThrow();
  });

  it('keeps the VM credentials from endpoints outside googleapis.com', () => {
    expect(() => checkEndpoint('http://127.0.0.1:4443/storage/v1/', false)).toThrow(/outside googleapis\.com/);
    expect(checkEndpoint('http://127.0.0.1:4443/storage/v1/', true)).toBe('http://127.0.0.1:4443/storage/v1/');
    expect(checkEndpoint('https://storage.us-central1.rep.googleapis.com/', false)).toBeTruthy();
    expect(() => checkEndpoint('https://user:secret@storage.googleapis.com/', false)).toThrow(/credentials in its URL/);
    expect(() => checkEndpoint('ftp://x/', true)).toThrow(/neither an http\(s\) URL/);
    expect(() => checkEndpoint('http://x/?a=1', true)).toThrow(/query or fragment/);
    expect(() => checkGcsfuseMountArgv(['--custom-endpoint=http://127.0.0.1:1/'], {}, 'c')).toThrow(/outside googleapis\.com/);
    expect(() => checkGcsfuseMountArgv(['--custom-endpoint=http://127.0.0.1:1/', '--anonymous-access'], {}, 'c')).not.toThrow();
    expect(() => checkGcsfuseMountArgv(['--anonymous-access'], anon, 'c')).toThrow(/given twice/);
  });

  it("applies Cloud Storage's bucket naming rules", () => {
    for (const ok of ['abc', 'my-bucket_1', 'a.b.c', `${'a'.repeat(63)}.${'b'.repeat(63)}`]) expect(checkBucketName(ok)).toBe(ok);
    for (const [bad, why] of [
      ['Bad Bucket;rm', /only lowercase/],
      ['MyBucket', /only lowercase/],
      ['ab', /at least 3/],
      ['a'.repeat(64), /too long/],
      ['-abc', /start and end/],
      ['a..b', /dot-separated/],
      ['192.168.1.1', /IP address/],
      ['goog-bucket', /goog/],
      ['my-google-bucket', /google/],
    ] as const) {
      expect(() => checkBucketName(bad), bad).toThrow(why);
    }
  });
});

describe('gcsfuseArgv', () => {
  const base = { logFile: '/logs/gcsfuse-1.log', logSeverity: 'info' as const, bucket: 'b1', mountPoint: '/mnt/gcs' };

  it('puts the mount args first, then the flags gcsfuse-bench owns, then bucket and mount point', () => {
    expect(gcsfuseArgv({ ...base, mountArgv: ['--implicit-dirs'], spec: {} })).toEqual([
      '--implicit-dirs',
      '--foreground',
      '--log-file',
      '/logs/gcsfuse-1.log',
      '--log-severity',
      'info',
      'b1',
      '/mnt/gcs',
    ]);
  });

  it("adds the mount spec's endpoint and anonymous access", () => {
    const argv = gcsfuseArgv({ ...base, mountArgv: [], spec: { customEndpoint: 'http://127.0.0.1:1/storage/v1/', anonymousAccess: true } });
    expect(argv.slice(0, 3)).toEqual(['--custom-endpoint', 'http://127.0.0.1:1/storage/v1/', '--anonymous-access']);
  });

  it.each([['--log-severity', 'off'], ['--log-severity=off'], ['-log-severity=off']])(
    'leaves the severity to mount args that set it (%s)',
    (...words) => {
      const argv = gcsfuseArgv({ ...base, mountArgv: words, spec: {} });
      expect(argv.filter((w) => w.includes('log-severity'))).toEqual([words[0]]);
      expect(argv).not.toContain('info');
    },
  );

  it('setsFlag matches the flag name only', () => {
    expect(setsFlag(['--log-severity-x=1', '--other', 'log-severity'], 'log-severity')).toBe(false);
    expect(setsFlag(['--log-severity=off'], 'log-severity')).toBe(true);
  });
});
