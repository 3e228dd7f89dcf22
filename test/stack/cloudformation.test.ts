import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { projectRoot } from '../../scripts/local-stack.ts';

const run = promisify(execFile);

interface Resource {
  readonly Type: string;
  readonly Properties?: Record<string, unknown>;
}
type Resources = Record<string, Resource>;
interface Statement {
  readonly Effect: string;
  readonly Action: string | string[];
  readonly Resource: unknown;
}

/** Packages the service offline, as `npm run package` does, and reads the stack CloudFormation would deploy. */
async function packaged(stage: string, params: string[], into: string): Promise<Resources> {
  const dir = join(into, stage);
  await run(join(projectRoot, 'node_modules', '.bin', 'serverless'), ['package', '--stage', stage, '--package', dir, ...params.map((p) => `--param=${p}`)], {
    cwd: projectRoot,
    timeout: 150_000,
    // Packaging needs no AWS account: no credentials, no network. Bundles go to a folder of this run's own.
    env: {
      ...process.env,
      AWS_ACCESS_KEY_ID: '',
      AWS_SECRET_ACCESS_KEY: '',
      AWS_PROFILE: '',
      CHAT_ESBUILD_DIR: join('.esbuild', `stack-${process.pid}-${stage}`),
    },
  });
  const template = JSON.parse(await readFile(join(dir, 'cloudformation-template-update-stack.json'), 'utf8')) as { Resources: Resources };
  return template.Resources;
}

const actionsOf = (statement: Statement): string[] => [statement.Action].flat();

function statementsOf(resources: Resources, roleName: string): Statement[] {
  const role = resources[roleName];
  const policies = (role?.Properties?.['Policies'] ?? []) as Array<{ PolicyDocument: { Statement: Statement[] } }>;
  return policies.flatMap((policy) => policy.PolicyDocument.Statement);
}

/** Our handlers' functions; the framework adds one of its own for API Gateway's logging role. */
function functionsOf(resources: Resources): Array<[string, Resource]> {
  return Object.entries(resources).filter(
    ([, r]) => r.Type === 'AWS::Lambda::Function' && String(r.Properties?.['Handler']).startsWith('src/handlers/'),
  );
}

function roleOfFunction(fn: Resource): string {
  const role = fn.Properties?.['Role'] as { 'Fn::GetAtt'?: [string, string] } | undefined;
  return role?.['Fn::GetAtt']?.[0] ?? '';
}

function dataActions(resources: Resources, roleName: string): string[] {
  return statementsOf(resources, roleName)
    .flatMap(actionsOf)
    .filter((action) => action.startsWith('dynamodb:') || action.startsWith('execute-api:'))
    .sort();
}

describe('the CloudFormation stack that `npm run package` builds', () => {
  let workDir: string;
  let dev: Resources;
  let prod: Resources;

  beforeAll(async () => {
    workDir = await mkdtemp(join(tmpdir(), 'chat-stack-'));
    dev = await packaged('dev', [], workDir);
    prod = await packaged('prod', ['authMode=jwt', 'allowedOrigins=https://chat.example.com', 'messageReservedConcurrency=100'], workDir);
  }, 320_000);

  afterAll(async () => {
    await rm(workDir, { recursive: true, force: true });
    for (const stage of ['dev', 'prod']) {
      await rm(join(projectRoot, '.esbuild', `stack-${process.pid}-${stage}`), { recursive: true, force: true });
    }
  });

  it('runs every function on nodejs24.x, arm64, with a timeout within API Gateway\'s 29 s', () => {
    for (const [, fn] of functionsOf(dev)) {
      expect([fn.Properties?.['Runtime'], fn.Properties?.['Architectures']]).toEqual(['nodejs24.x', ['arm64']]);
      expect(Number(fn.Properties?.['Timeout'])).toBeLessThanOrEqual(29);
    }
  });

  it('gives every function a log group with a retention, longer in prod', () => {
    const retention = (resources: Resources) =>
      Object.values(resources)
        .filter((r) => r.Type === 'AWS::Logs::LogGroup' && String(r.Properties?.['LogGroupName']).startsWith('/aws/lambda/'))
        .map((r) => r.Properties?.['RetentionInDays']);
    expect(retention(dev)).toEqual([30, 30, 30, 30]);
    expect(retention(prod)).toEqual([90, 90, 90, 90]);
  });

  it('gives each function a role of its own with only the data actions its handler uses', () => {
    const byFunction = Object.fromEntries(functionsOf(dev).map(([name, fn]) => [name, dataActions(dev, roleOfFunction(fn))]));
    expect(byFunction).toEqual({
      AuthorizerLambdaFunction: [],
      ConnectLambdaFunction: ['dynamodb:PutItem'],
      DisconnectLambdaFunction: ['dynamodb:DeleteItem', 'dynamodb:Query', 'dynamodb:UpdateItem', 'execute-api:ManageConnections'],
      MessageLambdaFunction: [
        'dynamodb:BatchGetItem',
        'dynamodb:GetItem',
        'dynamodb:PutItem',
        'dynamodb:Query',
        'dynamodb:Query',
        'dynamodb:UpdateItem',
        'execute-api:ManageConnections',
      ],
    });
  });

  it('grants no data action on a wildcard resource, and nothing on other tables or APIs', () => {
    for (const [, fn] of functionsOf(dev)) {
      for (const statement of statementsOf(dev, roleOfFunction(fn))) {
        const resource = JSON.stringify(statement.Resource);
        if (actionsOf(statement).some((a) => a.startsWith('dynamodb:'))) {
          expect(resource).toMatch(/^\{"Fn::(GetAtt":\["ChatTable","Arn"\]|Sub":"\$\{ChatTable\.Arn\}\/index\/byRoom")\}$/);
        }
        if (actionsOf(statement).some((a) => a.startsWith('execute-api:'))) {
          expect(resource).toContain('${WebsocketsApi}/dev/POST/@connections/*');
        }
        expect(resource).not.toBe('"*"');
      }
    }
    expect(Object.keys(dev)).not.toContain('IamRoleLambdaExecution');
  });

  it('keeps the table on demand, with TTL on the expiry, point-in-time recovery, and deletion protection in prod', () => {
    const table = (resources: Resources) => resources['ChatTable']?.Properties ?? {};
    expect(table(dev)).toMatchObject({
      BillingMode: 'PAY_PER_REQUEST',
      TimeToLiveSpecification: { AttributeName: 'expiresAt', Enabled: true },
      PointInTimeRecoverySpecification: { PointInTimeRecoveryEnabled: true },
      DeletionProtectionEnabled: false,
    });
    expect(table(prod)['DeletionProtectionEnabled']).toBe(true);
  });

  it('keeps tokens out of the stage logs and throttles the stage', () => {
    const stage = dev['WebsocketsDeploymentStage']?.Properties ?? {};
    const settings = stage['DefaultRouteSettings'] as Record<string, unknown>;
    const format = String((stage['AccessLogSettings'] as { Format?: string } | undefined)?.Format);
    expect(settings).toMatchObject({ DataTraceEnabled: false, LoggingLevel: 'ERROR' });
    expect(Number(settings['ThrottlingBurstLimit'])).toBeGreaterThan(0);
    expect(Number(settings['ThrottlingRateLimit'])).toBeGreaterThan(0);
    expect(() => JSON.parse(format)).not.toThrow();
    expect(format).not.toMatch(/querystring|requestOverride|token/i);
  });

  it('guards $connect with the token authorizer when authMode is jwt, and not otherwise', () => {
    const route = (resources: Resources) => resources['SconnectWebsocketsRoute']?.Properties ?? {};
    expect(route(dev)['AuthorizationType']).toBe('NONE');
    expect(route(prod)['AuthorizationType']).toBe('CUSTOM');
    expect(prod['AuthorizerWebsocketsAuthorizer']?.Properties?.['IdentitySource']).toEqual(['route.request.querystring.token']);
  });

  it('alarms on every function\'s errors and throttles and on failed deliveries, all to one topic', () => {
    const alarms = Object.values(dev).filter((r) => r.Type === 'AWS::CloudWatch::Alarm');
    const watched = alarms.map((a) => {
      const dimension = (a.Properties?.['Dimensions'] as Array<{ Value: unknown }>)[0]?.Value;
      const target = typeof dimension === 'object' ? JSON.stringify(dimension) : String(dimension);
      return `${String(a.Properties?.['MetricName'])} ${target}`;
    });
    const functions = functionsOf(dev).map(([name]) => JSON.stringify({ Ref: name }));
    expect(watched.sort()).toEqual(
      [...functions.flatMap((fn) => [`Errors ${fn}`, `Throttles ${fn}`]), 'FailedDeliveries ws-chat'].sort(),
    );
    for (const alarm of alarms) expect(alarm.Properties?.['AlarmActions']).toEqual([{ Ref: 'AlarmTopic' }]);
  });

  it('reserves concurrency for the message function only when asked to', () => {
    const reserved = (resources: Resources) => resources['MessageLambdaFunction']?.Properties?.['ReservedConcurrentExecutions'];
    expect(reserved(dev)).toEqual({ 'Fn::If': ['HasReservedConcurrency', 0, { Ref: 'AWS::NoValue' }] });
    // A --param value arrives as a string, which CloudFormation accepts for a number.
    expect(reserved(prod)).toEqual({ 'Fn::If': ['HasReservedConcurrency', '100', { Ref: 'AWS::NoValue' }] });
  });
});
