import { describe, expect, it } from 'vitest';
import { InputError } from '../../src/core/errors';
import { checkRepoLocation } from '../../src/core/repo';
import { hasControlChars, hasSpaceOrControlChars } from '../../src/core/text';

describe('control characters', () => {
  it('finds C0 controls and DEL, not printable text or non-ASCII letters', () => {
    for (const bad of ['a\nb', 'tab\there', '\u0000', 'esc\u001b[31m', 'del\u007f'])
      expect(hasControlChars(bad), JSON.stringify(bad)).toBe(true);
    for (const ok of ['plain', 'with space', 'ünïcödé', 'a/b-c_d.e', '']) expect(hasControlChars(ok), ok).toBe(false);
  });

  it('also finds white space when a single word is expected', () => {
    expect(hasSpaceOrControlChars('a b')).toBe(true);
    expect(hasSpaceOrControlChars('a\u00a0b')).toBe(true);
    expect(hasSpaceOrControlChars('https://github.com/x/y')).toBe(false);
  });
});

describe('checkRepoLocation', () => {
  it('takes URLs and paths', () => {
    for (const ok of ['https://github.com/GoogleCloudPlatform/gcsfuse.git', '/srv/git/gcsfuse', 'file:///tmp/repo'])
      expect(checkRepoLocation(ok, '--repo')).toBe(ok);
  });

  it('refuses options git would parse, empty values, white space and control characters, naming the flag', () => {
    for (const bad of ['--upload-pack=touch /tmp/x', '-c', '', '  ', 'https://x/ y', 'https://x/\ny']) {
      let caught: unknown;
      try {
        checkRepoLocation(bad, '--gcsfuse-repo');
      } catch (err) {
        caught = err;
      }
      expect(caught, JSON.stringify(bad)).toBeInstanceOf(InputError);
      expect((caught as InputError).message).toContain('--gcsfuse-repo');
    }
  });
});
