import js from '@eslint/js';
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
);
