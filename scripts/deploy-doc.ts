/**
 * `npm run docs:deploy`: packages the stack (offline, in a folder of its own) with the default params and with
 * authMode=jwt, and writes docs/deploy.md's list of resources and its idle cost from the two templates.
 */
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { projectRoot } from './local-stack.ts';
import { packageStack, serviceFolder } from './offline-package.ts';
import { withSection } from './readme-section.ts';
import { IDLE_COST_SECTION, idleCostSection, RESOURCES_SECTION, resourcesSection } from './stack-resources.ts';

/** The stages and params the doc describes: the stack tier packages stacks with the same resources (dev; prod with jwt). */
const DOC_STACKS = {
  plain: { stage: 'dev', params: [] as string[] },
  jwt: {
    stage: 'prod',
    params: ['authMode=jwt'],
    env: { AUTH_JWKS_URL: 'https://issuer.example/jwks.json', AUTH_AUDIENCE: 'chat' },
  },
};

const docPath = join(projectRoot, 'docs', 'deploy.md');
const service = await serviceFolder();
const into = await mkdtemp(join(tmpdir(), 'chat-deploy-doc-'));
try {
  console.log('Packaging the stack with the default params and with authMode=jwt...');
  const plain = await packageStack(service, DOC_STACKS.plain.stage, DOC_STACKS.plain.params, into);
  const jwt = await packageStack(service, DOC_STACKS.jwt.stage, DOC_STACKS.jwt.params, into, DOC_STACKS.jwt.env);
  let doc = await readFile(docPath, 'utf8');
  doc = withSection(doc, RESOURCES_SECTION, resourcesSection(plain, jwt));
  doc = withSection(doc, IDLE_COST_SECTION, idleCostSection(plain));
  await writeFile(docPath, doc);
  console.log(`Wrote ${docPath}`);
} finally {
  await rm(service, { recursive: true, force: true });
  await rm(into, { recursive: true, force: true });
}
