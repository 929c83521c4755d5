/**
 * Least authority for the programs the agent starts. fio and gcsfuse run as root with what a
 * benchmark gives them, so they get an environment built from an allow-list, never the agent's
 * own (which holds TEMPORAL_API_KEY and other secrets: fio expands `${VAR}` in job files, and
 * anything a child prints can end up in stored logs).
 *
 * | child   | variables passed on                                                              |
 * | ------- | -------------------------------------------------------------------------------- |
 * | fio     | PATH, HOME, LANG, LC_*, TZ, TMPDIR                                               |
 * | gcsfuse | the above, GOOGLE_APPLICATION_CREDENTIALS (a path), HTTP(S)_PROXY, NO_PROXY      |
 * | go      | the above for gcsfuse, GO*, CGO_*, CC, GIT_*, XDG_CACHE_HOME, XDG_CONFIG_HOME    |
 */
export type ChildKind = 'fio' | 'gcsfuse' | 'go';

const BASE = [/^PATH$/, /^HOME$/, /^LANG$/, /^LC_[A-Z]+$/, /^TZ$/, /^TMPDIR$/];
const GCSFUSE = [...BASE, /^GOOGLE_APPLICATION_CREDENTIALS$/, /^(HTTPS?|NO)_PROXY$/i];
const GO = [...GCSFUSE, /^GO[A-Z0-9_]*$/, /^CGO_[A-Z_]+$/, /^CC$/, /^GIT_[A-Z_]+$/, /^XDG_(CACHE|CONFIG)_HOME$/];
const ALLOWED: Record<ChildKind, RegExp[]> = { fio: BASE, gcsfuse: GCSFUSE, go: GO };

export function childEnv(kind: ChildKind, from: NodeJS.ProcessEnv = process.env): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [name, value] of Object.entries(from)) {
    if (value !== undefined && ALLOWED[kind].some((re) => re.test(name))) env[name] = value;
  }
  return env;
}
