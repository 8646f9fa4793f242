// Flat config: typescript-eslint's recommended rules plus a few that guard habits we care about.
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['dist/**', 'node_modules/**', 'data/**', 'test-artifacts/**', 'coverage/**', '.tmp/**', '.runtimes/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/no-explicit-any': 'off',
      'no-restricted-properties': ['error', { object: 'Math', property: 'random', message: 'Use node:crypto randomness (SEC-1).' }],
    },
  },
  {
    // The reference app is built as a user would build it: on the package's public subpaths only.
    files: ['app/**'],
    rules: {
      'no-restricted-imports': ['error', { patterns: [{ group: ['**/src/**', '../../*', '!../../app/**'], message: "Import the package's public subpaths (sessionward, sessionward/node, ...), never its sources." }] }],
    },
  },
  {
    files: ['test/**', 'bench/**', 'app/**'],
    rules: { 'no-restricted-properties': 'off' },
  },
);
