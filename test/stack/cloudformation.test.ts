import { access, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, jest } from '@jest/globals';
import { projectRoot, START_BUILD_FOLDER } from '../../scripts/local-stack.ts';
import {
  IDLE_COST_SECTION,
  idleCostSection,
  RESOURCES_SECTION,
  resourcesSection,
} from '../../scripts/stack-resources.ts';
import type { ReadmeSection } from '../../scripts/readme-section.ts';
import { loadConfig } from '../../src/handlers/wiring/config.ts';
import { RECORDED_SERVICES, type RecordedFunctions, recordFunctionCalls } from './function-scenarios.ts';
import {
  actionsOf,
  functionName,
  functionsOf,
  packaged,
  PackagingRefusedError,
  type Resources,
  roleOfFunction,
  serviceFolder,
  statementsOf,
} from './packaged-template.ts';
import { compareRole, type RoleCheck, type RoleComparison, writeUsage } from './role-grants.ts';

/** The text of docs/deploy.md between a section's markers. */
async function deployDocSection(section: ReadmeSection): Promise<string> {
  const doc = await readFile(join(projectRoot, 'docs', 'deploy.md'), 'utf8');
  return doc.slice(doc.indexOf(section.start) + section.start.length, doc.indexOf(section.end)).trim();
}

/** The IAM service prefix of a CloudFormation resource type: `AWS::ApiGatewayV2::Route` is `apigateway`. */
const serviceOf = (type: string): string => (type.split('::')[1] ?? '').toLowerCase().replace(/v2$/, '');

/** In the environment that packages prod: a secret that must not reach anything a deployed stage is made of. */
const SECRET_MARKER = 'hmac-secret-marker-3f9c27e1b84d4a06b5d2e8c1f7a09364';

describe('the CloudFormation stack that `npm run package` builds', () => {
  let workDir: string;
  let dev: Resources;
  let prod: Resources;
  /** prod in the default auth mode (none), with API Gateway's stage logs turned off. */
  let prodBare: Resources;
  let recorded: RecordedFunctions;

  let service: string;
  /** A file in the project's .serverless, where `npm run package` writes the package the README says to compare. */
  const projectPackageMarker = join(projectRoot, '.serverless', `kept-by-the-stack-tests-${process.pid}`);
  let projectPackageFolderMade = false;
  /** A file among the bundles `npm start` would be serving in the service folder while it is packaged. */
  let startBundleMarker: string;

  beforeAll(async () => {
    workDir = await mkdtemp(join(tmpdir(), 'chat-stack-'));
    service = await serviceFolder();
    startBundleMarker = join(service, START_BUILD_FOLDER, 'marker.mjs');
    await mkdir(join(service, START_BUILD_FOLDER), { recursive: true });
    await writeFile(startBundleMarker, '');
    projectPackageFolderMade = (await mkdir(join(projectRoot, '.serverless'), { recursive: true })) !== undefined;
    await writeFile(projectPackageMarker, '');
    const packaging = (async () => {
      dev = await packaged(service, 'dev', [], workDir);
      prod = await packaged(
        service,
        'prod',
        ['authMode=jwt', 'allowedOrigins=https://chat.example.com', 'messageReservedConcurrency=100'],
        workDir,
        // A key set and the audience its tokens must carry: packaging refuses a jwt stage without them.
        {
          AUTH_JWT_SECRET: SECRET_MARKER,
          AUTH_JWKS_URL: 'https://issuer.example/.well-known/jwks.json',
          AUTH_AUDIENCE: 'chat',
        },
      );
      prodBare = await packaged(service, 'prod', ['apiGatewayLogs=false'], join(workDir, 'bare'));
    })();
    packaging.catch(() => undefined);
    // The handlers' scenarios run while serverless packages: they take a second or two, packaging a minute.
    const warn = jest.spyOn(console, 'warn').mockImplementation(() => undefined);
    try {
      recorded = await recordFunctionCalls('dev');
    } finally {
      warn.mockRestore();
    }
    await packaging;
  }, 320_000);

  afterAll(async () => {
    await rm(workDir, { recursive: true, force: true });
    await rm(service, { recursive: true, force: true });
    await rm(projectPackageFolderMade ? join(projectRoot, '.serverless') : projectPackageMarker, {
      recursive: true,
      force: true,
    });
  });

  it("leaves the project's .serverless alone: the tests package in a service folder of their own", async () => {
    await expect(access(projectPackageMarker)).resolves.toBeUndefined();
  });

  it("bundles into a folder of packaging's own, leaving the bundles `npm start` serves in place", async () => {
    await expect(access(startBundleMarker)).resolves.toBeUndefined();
  });

  it('refuses to package a jwt stage with no key to verify tokens with, naming the settings to set', async () => {
    const packaging = packaged(service, 'dev', ['authMode=jwt'], join(workDir, 'refused'), {
      AUTH_JWKS_URL: '',
      AUTH_JWKS: '',
      AUTH_JWT_SECRET: '',
    });

    await expect(packaging).rejects.toThrow(PackagingRefusedError);
    await expect(packaging).rejects.toThrow(
      /authMode jwt: the authorizer's settings are refused \(no key .*AUTH_JWKS_URL/,
    );
  });

  it('lists in docs/deploy.md every resource the stack creates, with and without jwt (npm run docs:deploy)', async () => {
    expect(await deployDocSection(RESOURCES_SECTION)).toBe(resourcesSection({ Resources: dev }, { Resources: prod }));
  });

  it("states in docs/deploy.md the idle cost of the stack's resources (npm run docs:deploy)", async () => {
    expect(await deployDocSection(IDLE_COST_SECTION)).toBe(idleCostSection({ Resources: dev }));
  });

  it("grants the deployer's policy in docs/deploy.md calls of every service whose resources the stack creates", async () => {
    const policy = JSON.parse(
      (await deployDocSection({ start: '<!-- deployer-policy:start -->', end: '<!-- deployer-policy:end -->' }))
        .replace(/^```json\n/, '')
        .replace(/\n```$/, ''),
    ) as { Statement: Array<{ Action: string[] }> };
    const granted = new Set(
      policy.Statement.flatMap((statement) => statement.Action.map((action) => action.split(':')[0])),
    );
    const needed = new Set(['cloudformation', ...Object.values({ ...dev, ...prod }).map((r) => serviceOf(r.Type))]);

    expect([...needed].filter((service) => !granted.has(service ?? ''))).toEqual([]);
  });

  it("runs every function on nodejs24.x, arm64, with a timeout within API Gateway's 29 s", () => {
    for (const [, fn] of functionsOf(dev)) {
      expect([fn.Properties?.['Runtime'], fn.Properties?.['Architectures']]).toEqual(['nodejs24.x', ['arm64']]);
      expect(Number(fn.Properties?.['Timeout'])).toBeLessThanOrEqual(29);
    }
  });

  it('gives every function a log group with a retention, longer in prod', () => {
    const retention = (resources: Resources) =>
      Object.values(resources)
        .filter(
          (r) => r.Type === 'AWS::Logs::LogGroup' && String(r.Properties?.['LogGroupName']).startsWith('/aws/lambda/'),
        )
        .map((r) => r.Properties?.['RetentionInDays']);
    expect(retention(dev)).toEqual([30, 30, 30, 30, 30, 30]);
    expect(retention(prod)).toEqual([90, 90, 90, 90, 90, 90]);
  });

  it('gives each function a role of its own', () => {
    const roles = functionsOf(dev).map(([, fn]) => roleOfFunction(fn));
    expect(roles.filter((role) => role === '' || dev[role]?.Type !== 'AWS::IAM::Role')).toEqual([]);
    expect(new Set(roles).size).toBe(roles.length);
  });

  it('runs every function of the stack through scenarios that each reach the path they are for', () => {
    expect([...recorded.calls.keys()].sort()).toEqual(
      functionsOf(dev)
        .map(([, fn]) => functionName(fn))
        .sort(),
    );
    expect(recorded.unreached).toEqual([]);
  });

  /** Each function with its role in the dev template and the calls it made. */
  const checks = (): RoleCheck[] =>
    functionsOf(dev).map(([, fn]) => ({
      functionName: functionName(fn),
      roleName: roleOfFunction(fn),
      calls: recorded.calls.get(functionName(fn)) ?? [],
      recordedServices: RECORDED_SERVICES,
      // Lambda writes a function's logs with its role; no handler code calls CloudWatch Logs.
      unrecordedServices: ['logs'],
    }));
  /** Each function's recorded calls against its role in the dev template. */
  const comparisons = (): RoleComparison[] => checks().map((check) => compareRole(dev, check));

  it('allows each function every AWS call its handler made in its scenarios', () => {
    writeUsage(dev, 'dev', checks());
    expect(comparisons().flatMap((c) => c.missing)).toEqual([]);
  });

  it('grants each function no data action that its handler did not make in its scenarios', () => {
    expect(comparisons().flatMap((c) => c.excess)).toEqual([]);
  });

  it('grants no data action on a wildcard resource, and nothing on other tables or APIs', () => {
    for (const [, fn] of functionsOf(dev)) {
      for (const statement of statementsOf(dev, roleOfFunction(fn))) {
        const resource = JSON.stringify(statement.Resource);
        if (actionsOf(statement).some((a) => a.startsWith('dynamodb:'))) {
          expect(resource).toMatch(
            /^\{"Fn::(GetAtt":\["ChatTable","Arn"\]|Sub":"\$\{ChatTable\.Arn\}\/index\/byRoom")\}$/,
          );
        }
        if (actionsOf(statement).some((a) => a.startsWith('sqs:'))) {
          for (const queue of [statement.Resource].flat())
            expect(JSON.stringify(queue)).toMatch(/^\{"Fn::GetAtt":\["(FanOut|Presence)Queue","Arn"\]\}$/);
        }
        if (actionsOf(statement).some((a) => a.startsWith('execute-api:'))) {
          expect(resource).toContain('${WebsocketsApi}/dev/POST/@connections/*');
        }
        expect(resource).not.toBe('"*"');
      }
    }
    expect(Object.keys(dev)).not.toContain('IamRoleLambdaExecution');
  });

  it("lets only this API's own routes and authorizer invoke a function, in either auth mode", () => {
    const sources = (resources: Resources) =>
      Object.fromEntries(
        Object.entries(resources)
          .filter(([, r]) => r.Type === 'AWS::Lambda::Permission')
          .map(([id, r]) => [id, r.Properties?.['SourceArn']]),
      );
    const api = 'arn:${AWS::Partition}:execute-api:${AWS::Region}:${AWS::AccountId}:${WebsocketsApi}';
    const routes = {
      ConnectLambdaPermissionWebsockets: { 'Fn::Sub': `${api}/prod/$connect` },
      DisconnectLambdaPermissionWebsockets: { 'Fn::Sub': `${api}/prod/$disconnect` },
      MessageLambdaPermissionWebsockets: { 'Fn::Sub': `${api}/prod/*` },
    };

    // The publish API's routes are all the publish function's: any route of that API, and no other API.
    const httpApi = {
      'Fn::Join': [
        '',
        [
          'arn:',
          { Ref: 'AWS::Partition' },
          ':execute-api:',
          { Ref: 'AWS::Region' },
          ':',
          { Ref: 'AWS::AccountId' },
          ':',
          { Ref: 'HttpApi' },
          '/*',
        ],
      ],
    };
    const all = { ...routes, PublishLambdaPermissionHttpApi: httpApi };

    expect([sources(prod), sources(prodBare)]).toEqual([
      { ...all, AuthorizerLambdaPermissionWebsockets: { 'Fn::Sub': `${api}/authorizers/*` } },
      all,
    ]);
  });

  it('requires IAM on every route of the publish API, and offers callers a policy of execute-api:Invoke on them only', () => {
    const routes = Object.values(dev)
      .filter((r) => r.Type === 'AWS::ApiGatewayV2::Route')
      .map((r) => [r.Properties?.['RouteKey'], r.Properties?.['AuthorizationType']])
      .filter(([key]) => !String(key).startsWith('$') && String(key).includes(' '));
    const policy = dev['PublisherPolicy'];
    const api = 'arn:${AWS::Partition}:execute-api:${AWS::Region}:${AWS::AccountId}:${HttpApi}';

    expect(routes.sort()).toEqual([
      ['GET /rooms/{room}', 'AWS_IAM'],
      ['GET /rooms/{room}/messages', 'AWS_IAM'],
      ['POST /rooms/{room}/messages', 'AWS_IAM'],
    ]);
    expect({ type: policy?.Type, statements: statementsOf(dev, 'PublisherPolicy') }).toEqual({
      type: 'AWS::IAM::ManagedPolicy',
      statements: [
        {
          Effect: 'Allow',
          Action: 'execute-api:Invoke',
          Resource: [{ 'Fn::Sub': `${api}/*/POST/rooms/*/messages` }, { 'Fn::Sub': `${api}/*/GET/rooms/*` }],
        },
      ],
    });
  });

  it('grants no role any IAM action', () => {
    for (const resources of [dev, prod, prodBare]) {
      const roles = Object.keys(resources).filter((id) => resources[id]?.Type === 'AWS::IAM::Role');
      const iamActions = roles.flatMap((role) =>
        statementsOf(resources, role)
          .flatMap(actionsOf)
          .filter((action) => /^(iam:|\*$)/i.test(action)),
      );
      expect(iamActions).toEqual([]);
    }
  });

  it("has no role but our functions' own: none of the framework's", () => {
    for (const resources of [dev, prod, prodBare]) {
      const roles = Object.keys(resources).filter((id) => resources[id]?.Type === 'AWS::IAM::Role');
      expect(roles.sort()).toEqual(
        functionsOf(resources)
          .map(([, fn]) => roleOfFunction(fn))
          .sort(),
      );
    }
  });

  it("keeps the HMAC secret out of a deployed stage's template, its state and every function's environment", async () => {
    const files = await Promise.all(
      ['cloudformation-template-update-stack.json', 'serverless-state.json'].map((file) =>
        // packaged() writes a stage's package to <into>/<stage>.
        readFile(join(workDir, 'prod', file), 'utf8'),
      ),
    );
    const variableNames = Object.values(prod)
      .filter((r) => r.Type === 'AWS::Lambda::Function')
      .flatMap((fn) =>
        Object.keys((fn.Properties?.['Environment'] as { Variables?: object } | undefined)?.Variables ?? {}),
      );

    expect({
      markerIn: files.map((text) => text.includes(SECRET_MARKER)),
      secretVariables: variableNames.filter((name) => name === 'AUTH_JWT_SECRET'),
    }).toEqual({ markerIn: [false, false], secretVariables: [] });
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
    expect([Number(settings['ThrottlingBurstLimit']), Number(settings['ThrottlingRateLimit'])]).toEqual([500, 1000]);
    expect(() => JSON.parse(format)).not.toThrow();
    expect(format).not.toMatch(/querystring|requestOverride|token/i);
  });

  it("keeps API Gateway's execution logs in a log group of the stack, with a retention, made before the stage", () => {
    const [id, group] =
      Object.entries(prod).find(
        ([, r]) =>
          r.Type === 'AWS::Logs::LogGroup' &&
          JSON.stringify(r.Properties?.['LogGroupName']).includes('API-Gateway-Execution-Logs_'),
      ) ?? [];
    const stage = prod['WebsocketsDeploymentStage'] as { DependsOn?: string[] } | undefined;

    expect({
      name: group?.Properties?.['LogGroupName'],
      retention: group?.Properties?.['RetentionInDays'],
      stageDependsOnIt: id !== undefined && (stage?.DependsOn ?? []).includes(id),
    }).toEqual({
      name: { 'Fn::Sub': 'API-Gateway-Execution-Logs_${WebsocketsApi}/prod' },
      retention: 90,
      stageDependsOnIt: true,
    });
  });

  it("turns the stage's execution and access logs off when apiGatewayLogs is false", () => {
    const stage = prodBare['WebsocketsDeploymentStage']?.Properties ?? {};
    const settings = stage['DefaultRouteSettings'] as Record<string, unknown>;
    expect([settings['LoggingLevel'], stage['AccessLogSettings']]).toEqual(['OFF', undefined]);
  });

  it('throttles the prod stage at its own, higher limits', () => {
    const settings = prod['WebsocketsDeploymentStage']?.Properties?.['DefaultRouteSettings'] as Record<string, unknown>;
    expect([Number(settings['ThrottlingBurstLimit']), Number(settings['ThrottlingRateLimit'])]).toEqual([2000, 5000]);
  });

  it('guards $connect with the token authorizer when authMode is jwt, and not otherwise', () => {
    const route = (resources: Resources) => resources['SconnectWebsocketsRoute']?.Properties ?? {};
    expect(route(dev)['AuthorizationType']).toBe('NONE');
    expect(route(prod)['AuthorizationType']).toBe('CUSTOM');
    expect(prod['AuthorizerWebsocketsAuthorizer']?.Properties?.['IdentitySource']).toEqual([
      'route.request.querystring.token',
    ]);
  });

  it("alarms on every function's errors and throttles, on failed deliveries and on the dead-letter queue, all to one topic", () => {
    const alarms = Object.values(dev).filter((r) => r.Type === 'AWS::CloudWatch::Alarm');
    const watched = alarms.map((a) => {
      const dimension = (a.Properties?.['Dimensions'] as Array<{ Value: unknown }>)[0]?.Value;
      const target = typeof dimension === 'object' ? JSON.stringify(dimension) : String(dimension);
      return `${String(a.Properties?.['MetricName'])} ${target}`;
    });
    const functions = functionsOf(dev).map(([name]) => JSON.stringify({ Ref: name }));
    expect(watched.sort()).toEqual(
      [
        ...functions.flatMap((fn) => [`Errors ${fn}`, `Throttles ${fn}`]),
        'FailedDeliveries ws-chat',
        `ApproximateNumberOfMessagesVisible ${JSON.stringify({ 'Fn::GetAtt': ['FanOutDeadLetterQueue', 'QueueName'] })}`,
        `ApproximateNumberOfMessagesVisible ${JSON.stringify({ 'Fn::GetAtt': ['PresenceDeadLetterQueue', 'QueueName'] })}`,
      ].sort(),
    );
    for (const alarm of alarms) expect(alarm.Properties?.['AlarmActions']).toEqual([{ Ref: 'AlarmTopic' }]);
  });

  it('moves a fan-out job or presence flush that failed 5 times to its dead-letter queue, and alarms on its first message', () => {
    const properties = (id: string) => dev[id]?.Properties ?? {};
    const alarms = Object.values(dev)
      .filter((r) => r.Type === 'AWS::CloudWatch::Alarm' && r.Properties?.['Namespace'] === 'AWS/SQS')
      .map((alarm) => [alarm.Properties?.['Threshold'], alarm.Properties?.['ComparisonOperator']]);

    expect({
      redrive: [properties('FanOutQueue')['RedrivePolicy'], properties('PresenceQueue')['RedrivePolicy']],
      alarms,
    }).toEqual({
      redrive: [
        { deadLetterTargetArn: { 'Fn::GetAtt': ['FanOutDeadLetterQueue', 'Arn'] }, maxReceiveCount: 5 },
        { deadLetterTargetArn: { 'Fn::GetAtt': ['PresenceDeadLetterQueue', 'Arn'] }, maxReceiveCount: 5 },
      ],
      alarms: [
        [0, 'GreaterThanThreshold'],
        [0, 'GreaterThanThreshold'],
      ],
    });
  });

  it('keeps a fan-out job, in its queue or the dead-letter queue, no longer than the history keeps a message', () => {
    for (const resources of [dev, prod]) {
      const variables = (resources['MessageLambdaFunction']?.Properties?.['Environment'] as { Variables: object })
        .Variables as Record<string, unknown>;
      // What the function keeps messages for: the config's default when the stack sets nothing.
      const { historyRetentionSeconds } = loadConfig({
        CHAT_TABLE: 'chat',
        WEBSOCKET_MANAGEMENT_ENDPOINT: 'https://api.example/prod',
        FANOUT_QUEUE_URL: 'https://sqs.example/000000000000/fanout',
        PRESENCE_QUEUE_URL: 'https://sqs.example/000000000000/presence',
        HISTORY_RETENTION_SECONDS: String(variables['HISTORY_RETENTION_SECONDS'] ?? ''),
      });
      // SQS keeps a message 4 days unless told otherwise.
      const retention = (id: string) => Number(resources[id]?.Properties?.['MessageRetentionPeriod'] ?? 345_600);

      const queues = ['FanOutQueue', 'FanOutDeadLetterQueue', 'PresenceQueue', 'PresenceDeadLetterQueue'];
      expect(Math.max(...queues.map(retention))).toBeLessThanOrEqual(historyRetentionSeconds);
    }
  });

  it("feeds the worker from the shard and presence queues apart, one job at a time, with failures per record, each queue's visibility over 6x the worker's timeout", () => {
    const mappings = Object.values(dev)
      .filter((r) => r.Type === 'AWS::Lambda::EventSourceMapping')
      .map((r) => r.Properties ?? {});
    const worker = dev['FanoutLambdaFunction']?.Properties ?? {};
    const queueOf = (mapping: Record<string, unknown>): string =>
      String((mapping['EventSourceArn'] as { 'Fn::GetAtt'?: unknown[] } | undefined)?.['Fn::GetAtt']?.[0]);

    expect(
      mappings.map((mapping) => ({
        source: mapping['EventSourceArn'],
        function: mapping['FunctionName'],
        batchSize: mapping['BatchSize'],
        responses: mapping['FunctionResponseTypes'],
        maximumConcurrency: (mapping['ScalingConfig'] as { MaximumConcurrency?: unknown } | undefined)
          ?.MaximumConcurrency,
        visibilityOverSixTimeouts:
          Number(dev[queueOf(mapping)]?.Properties?.['VisibilityTimeout']) > 6 * Number(worker['Timeout']),
      })),
    ).toEqual(
      ['FanOutQueue', 'PresenceQueue'].map((queue) => ({
        source: { 'Fn::GetAtt': [queue, 'Arn'] },
        function: { 'Fn::GetAtt': ['FanoutLambdaFunction', 'Arn'] },
        batchSize: 1,
        responses: ['ReportBatchItemFailures'],
        maximumConcurrency: 4,
        visibilityOverSixTimeouts: true,
      })),
    );
  });

  it('reserves concurrency for the message function only when asked to', () => {
    const reserved = (resources: Resources) =>
      resources['MessageLambdaFunction']?.Properties?.['ReservedConcurrentExecutions'];
    expect(reserved(dev)).toEqual({ 'Fn::If': ['HasReservedConcurrency', 0, { Ref: 'AWS::NoValue' }] });
    // A --param value arrives as a string, which CloudFormation accepts for a number.
    expect(reserved(prod)).toEqual({ 'Fn::If': ['HasReservedConcurrency', '100', { Ref: 'AWS::NoValue' }] });
  });
});
