import { afterEach, beforeAll, describe, expect, it } from '@jest/globals';
import { join } from 'node:path';
import { build, type Metafile } from 'esbuild';
import { deployedBuildOptions } from '../../bench/coldstart.ts';
import { projectRoot } from '../../scripts/local-stack.ts';
import { defaultProvider } from '../../src/handlers/wiring/lambda-credential-chain.ts';

interface Bundle {
  readonly code: string;
  readonly packages: ReadonlySet<string>;
  /** Every input file in the bundle. */
  readonly inputs: readonly string[];
}

/** A handler bundled with serverless.yml's esbuild options, in memory. */
async function bundle(handler: string): Promise<Bundle> {
  const result = await build({
    ...(await deployedBuildOptions()),
    absWorkingDir: projectRoot,
    entryPoints: [join(projectRoot, 'src', 'handlers', 'functions', `${handler}.ts`)],
    outfile: join(projectRoot, '.esbuild', 'unit', `${handler}.mjs`),
    write: false,
    metafile: true,
    logLevel: 'silent',
  });
  return {
    code: result.outputFiles[0]?.text ?? '',
    packages: packagesOf(result.metafile),
    inputs: Object.keys(result.metafile.inputs),
  };
}

function packagesOf(metafile: Metafile): Set<string> {
  const names = Object.keys(metafile.inputs).flatMap((path) => {
    const match = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(path);
    return match?.[1] === undefined ? [] : [match[1]];
  });
  return new Set(names);
}

describe('the handler bundles', () => {
  let authorizer: Bundle;
  let message: Bundle;

  beforeAll(async () => {
    [authorizer, message] = await Promise.all([bundle('authorizer'), bundle('message')]);
  });

  it('leave every AWS SDK package out of the authorizer, which calls no AWS API', () => {
    const sdk = [...authorizer.packages].filter((name) => name.startsWith('@aws-sdk/') || name.startsWith('@smithy/'));

    expect(sdk).toEqual([]);
  });

  it('hold no link of the default credential chain but the environment', () => {
    const chain = [...message.packages].filter((name) =>
      /^@aws-sdk\/(credential-provider-|nested-clients|token-providers)/.test(name),
    );

    expect(chain).toEqual(['@aws-sdk/credential-provider-env']);
  });

  it('leave out the event-stream codec, which no operation they call has', () => {
    expect(message.inputs.some((path) => path.includes('@smithy/core/dist-es/submodules/event-streams/'))).toBe(false);
  });

  it('load Node built-ins with require, so that node:http does not load undici through its ESM facade', () => {
    expect(message.code).not.toMatch(/from\s*["']node:http["']/);
    expect(message.code).toMatch(/\(\s*["']node:http["']\s*\)/);
  });
});

describe('the credential chain of the bundles', () => {
  const saved = { ...process.env };

  afterEach(() => {
    process.env = { ...saved };
  });

  it('reads the credentials Lambda puts in the environment', async () => {
    process.env['AWS_ACCESS_KEY_ID'] = 'AKIDEXAMPLE';
    process.env['AWS_SECRET_ACCESS_KEY'] = 'secret';
    process.env['AWS_SESSION_TOKEN'] = 'session';

    await expect(defaultProvider()()).resolves.toMatchObject({
      accessKeyId: 'AKIDEXAMPLE',
      secretAccessKey: 'secret',
      sessionToken: 'session',
    });
  });

  it('fails without them instead of looking anywhere else', async () => {
    delete process.env['AWS_ACCESS_KEY_ID'];
    delete process.env['AWS_SECRET_ACCESS_KEY'];
    process.env['AWS_PROFILE'] = 'a-profile-that-must-not-be-read';

    await expect(defaultProvider()()).rejects.toThrow(/environment/i);
  });
});
