// Lint is kept to what the compiler cannot check: promises nobody waits on or handles.
// A rejected promise without a handler stops the service (close-with-grace) in the
// middle of whatever it was doing, e.g. moving traffic.
import tseslint from 'typescript-eslint';

export default tseslint.config(
  // Tests are left out: tap runs the subtests their top-level t.test calls return.
  { ignores: ['dist/**', 'dist-lab/**', 'dist-dashboard/**', 'node_modules/**', '.pgshift/**', 'test/**', '*.js'] },
  {
    files: ['src/**/*.ts', 'bench/**/*.ts', 'deploy/**/*.ts'],
    languageOptions: {
      parser: tseslint.parser,
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
    plugins: { '@typescript-eslint': tseslint.plugin },
    rules: {
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/no-misused-promises': ['error', { checksVoidReturn: { arguments: false, attributes: false } }],
    },
  },
);
