/** `npm run asyncapi`: writes asyncapi.yaml, the protocol document, from the zod schemas. */
import { writeFileSync } from 'node:fs';
import { relative } from 'node:path';
import { ASYNCAPI_PATH, asyncApiYaml } from './asyncapi-document.ts';

writeFileSync(ASYNCAPI_PATH, asyncApiYaml());
console.log(`wrote ${relative(process.cwd(), ASYNCAPI_PATH)}`);
