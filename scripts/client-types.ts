/** `npm run client-types -- <file.ts>`: writes the TypeScript types of every frame in asyncapi.yaml to that file. */
import { readFileSync, writeFileSync } from 'node:fs';
import { ASYNCAPI_PATH } from './asyncapi-document.ts';
import { clientTypes } from './client-types-generator.ts';

const [target] = process.argv.slice(2);
if (target === undefined) {
  console.error('usage: npm run client-types -- <file.ts>');
  process.exit(2);
}
writeFileSync(target, await clientTypes(readFileSync(ASYNCAPI_PATH, 'utf8')));
console.log(`wrote ${target}`);
