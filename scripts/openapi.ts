/** `npm run openapi`: writes openapi.yaml, the publish API's document, from the zod schemas. */
import { writeFileSync } from 'node:fs';
import { relative } from 'node:path';
import { OPENAPI_PATH, openApiYaml } from './openapi-document.ts';

writeFileSync(OPENAPI_PATH, openApiYaml());
console.log(`wrote ${relative(process.cwd(), OPENAPI_PATH)}`);
