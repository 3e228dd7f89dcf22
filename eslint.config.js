import js from '@eslint/js';
import boundaries from 'eslint-plugin-boundaries';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['node_modules', '.serverless', '.esbuild', '.results', 'coverage', 'dist', 'web/dist'] },
  js.configs.recommended,
  ...tseslint.configs.strict,
  {
    rules: {
      // TypeScript itself reports undefined names, with the right globals for Node and the browser.
      'no-undef': 'off',
      '@typescript-eslint/no-explicit-any': 'error',
      '@typescript-eslint/no-non-null-assertion': 'error',
      '@typescript-eslint/consistent-type-imports': 'error',
    },
  },
  {
    // The domain owns its ports and knows nothing of AWS, Middy, zod or the outer layers.
    files: ['src/domain/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            { group: ['@aws-sdk/*', '@smithy/*'], message: 'the domain must not depend on the AWS SDK' },
            { group: ['@middy/*'], message: 'the domain must not depend on Middy' },
            { group: ['zod', 'zod/*', '**/handlers/zod*'], message: 'validation belongs to the handlers' },
            { group: ['aws-lambda'], message: 'Lambda event types belong to the handlers' },
            { group: ['**/adapters/*', '**/adapters'], message: 'the domain must not import adapters' },
            { group: ['**/handlers/*', '**/handlers'], message: 'the domain must not import handlers' },
          ],
        },
      ],
    },
  },
  {
    // One home for each kind of file, and the direction of every dependency between them.
    files: ['src/**/*.ts'],
    plugins: { boundaries },
    settings: {
      'import/resolver': { node: { extensions: ['.ts'] } },
      'boundaries/elements': [
        { type: 'domain', pattern: 'src/domain' },
        { type: 'adapter', pattern: 'src/adapters' },
        { type: 'function', pattern: 'src/handlers/functions' },
        { type: 'middleware', pattern: 'src/handlers/middlewares' },
        { type: 'frames', pattern: 'src/handlers/frames' },
        { type: 'wiring', pattern: 'src/handlers/wiring' },
      ],
    },
    rules: {
      'boundaries/no-unknown-files': 'error',
      'boundaries/dependencies': [
        'error',
        {
          default: 'disallow',
          policies: [
            // The domain imports nothing outward.
            { from: { element: { type: 'domain' } }, allow: { to: { element: { type: 'domain' } } } },
            {
              from: { element: { type: 'adapter' } },
              allow: { to: { element: { types: { anyOf: ['domain', 'adapter'] } } } },
            },
            {
              from: { element: { type: 'frames' } },
              allow: { to: { element: { types: { anyOf: ['domain', 'frames'] } } } },
            },
            {
              from: { element: { types: { anyOf: ['function', 'middleware'] } } },
              allow: { to: { element: { types: { anyOf: ['domain', 'frames', 'middleware', 'wiring'] } } } },
            },
            // Only the wiring builds adapters.
            {
              from: { element: { type: 'wiring' } },
              allow: { to: { element: { types: { anyOf: ['domain', 'adapter', 'frames', 'wiring'] } } } },
            },
          ],
        },
      ],
    },
  },
  {
    // Only the wiring reads the environment, through one zod-checked config.
    files: ['src/**/*.ts'],
    ignores: ['src/handlers/wiring/*.ts'],
    rules: {
      'no-restricted-properties': [
        'error',
        {
          object: 'process',
          property: 'env',
          message: 'only src/handlers/wiring reads process.env, through its checked config',
        },
      ],
    },
  },
);
