// ESLint: correctness rules plus the layers of docs/architecture.md, so CI refuses an import that crosses one.
// Formatting is Prettier's job (eslint-config-prettier turns the stylistic rules off).
import js from '@eslint/js';
import prettier from 'eslint-config-prettier';
import tseslint from 'typescript-eslint';

/** Node modules that do I/O or depend on the host: never in pure code or workflow code. */
const NODE_IO = [
  'node:*',
  'fs',
  'fs/*',
  'child_process',
  'net',
  'http',
  'https',
  'os',
  'path',
  'process',
  'dgram',
  'dns',
  'tls',
  'worker_threads',
];

/** One `no-restricted-imports` pattern per forbidden group, with the reason shown to whoever crosses it. */
function forbid(groups) {
  return {
    '@typescript-eslint/no-restricted-imports': [
      'error',
      { patterns: groups.map(({ group, message, allowTypeImports = false }) => ({ group, message, allowTypeImports })) },
    ],
  };
}

const cloudAndTemporal = ['@google-cloud/*', '@temporalio/client', '@temporalio/worker', '@temporalio/activity', '@temporalio/testing'];

export default tseslint.config(
  { ignores: ['node_modules/**', '.gcsfuse-bench/**', 'results/**', 'dist/**', 'coverage/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  prettier,
  {
    languageOptions: { ecmaVersion: 2022, sourceType: 'module' },
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_', caughtErrors: 'none' }],
      '@typescript-eslint/consistent-type-imports': ['error', { fixStyle: 'inline-type-imports' }],
      'no-constant-condition': ['error', { checkLoops: false }],
      eqeqeq: ['error', 'always', { null: 'ignore' }],
    },
  },
  {
    // Pure logic: no I/O, no cloud or Temporal runtime, no other layer.
    files: ['src/core/**/*.ts'],
    rules: forbid([
      { group: NODE_IO, message: 'src/core is pure: take data in, give data out; I/O belongs in activities, the agent or the CLI.' },
      { group: cloudAndTemporal, message: 'src/core is pure: no cloud clients or Temporal runtime.' },
      {
        group: [
          '**/activities/**',
          '**/client/**',
          '**/workers/**',
          '**/workflows/**',
          '**/artifacts/**',
          '**/fleet/**',
          '**/local/**',
          '**/vm-agent/**',
        ],
        message: 'src/core imports no other layer.',
      },
    ]),
  },
  {
    // Workflow code runs in Temporal's deterministic sandbox: only workflow-safe modules, anything else by type.
    files: ['src/workflows/**/*.ts'],
    rules: forbid([
      { group: NODE_IO, message: 'Workflow code is deterministic: no Node I/O (use an activity).' },
      { group: cloudAndTemporal, message: 'Workflow code uses @temporalio/workflow only; cloud calls are activities.' },
      {
        group: ['**/activities/**', '**/client/**', '**/workers/**', '**/artifacts/**', '**/fleet/**', '**/local/**', '**/vm-agent/**'],
        message: 'Workflows take other layers by type only (proxyActivities<typeof ...>).',
        allowTypeImports: true,
      },
    ]),
  },
  {
    // The agent runs on the VMs: it shares core, shared and the artifact store, never the CLI or the orchestrator.
    files: ['vm-agent/**/*.ts'],
    rules: forbid([
      {
        group: ['**/src/client/**', '**/src/workers/**', '**/src/activities/**', '**/src/local/**'],
        message: "The agent never imports the CLI, the orchestrator's activities or local-stack code (shared code lives in src/shared).",
      },
    ]),
  },
  {
    // Activities are called by workflows; they never reach up into the CLI.
    files: ['src/activities/**/*.ts', 'src/artifacts/**/*.ts', 'src/fleet/**/*.ts', 'src/shared/**/*.ts'],
    rules: forbid([
      {
        group: ['**/client/**', '**/workers/**', '**/vm-agent/**'],
        message: 'Lower layers never import the CLI, the workers or the agent.',
      },
    ]),
  },
  {
    // The CLI talks to workflows through the Temporal client and to shared logic through src/shared and src/core.
    files: ['src/client/**/*.ts'],
    rules: forbid([
      {
        group: ['**/activities/**', '**/workers/**'],
        message: 'The CLI never imports activities or workers: put what both need in src/shared.',
      },
    ]),
  },
  {
    files: ['test/**/*.ts', 'bench/**/*.ts'],
    rules: { '@typescript-eslint/no-non-null-assertion': 'off', '@typescript-eslint/no-explicit-any': 'off' },
  },
);
