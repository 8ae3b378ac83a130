// ESLint (flat config) for every JavaScript file of the project; run by
// `cargo xtask lint`, with eslint, @eslint/js and globals pinned and
// installed by `.ci/setup` into target/tools (so they are resolved from
// there, not from a node_modules beside this file).
import { createRequire } from 'node:module';
import { pathToFileURL } from 'node:url';

const tools = createRequire(new URL('./target/tools/package.json', import.meta.url));
const load = async (name) => (await import(pathToFileURL(tools.resolve(name)).href)).default;
const js = await load('@eslint/js');
const globals = await load('globals');

export default [
  { ignores: ['target/**', 'dist/**', '**/node_modules/**', 'fuzz/**'] },
  js.configs.recommended,
  {
    rules: {
      // `catch (_)` and unused callback parameters name what is there.
      'no-unused-vars': ['error', { args: 'none', caughtErrors: 'none' }],
      'no-empty': ['error', { allowEmptyCatch: true }],
    },
  },
  {
    // The recorder's modules, the player's pages and its executor: ES
    // modules in the browser.
    files: ['recorder/js/**/*.js', 'player/static/**/*.js', 'player/js/**/*.js'],
    languageOptions: { sourceType: 'module', ecmaVersion: 2022, globals: { ...globals.browser } },
  },
  {
    // Scripts the tests and the bench put into pages.
    files: ['tests/**/*.js', 'bench/**/*.js'],
    languageOptions: { sourceType: 'script', ecmaVersion: 2022, globals: { ...globals.browser } },
  },
  {
    // Build scripts run by node (the npm package's generator).
    files: ['**/*.mjs'],
    languageOptions: { sourceType: 'module', ecmaVersion: 2022, globals: { ...globals.node } },
  },
];
