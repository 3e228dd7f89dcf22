/**
 * docs/deploy.md's generated sections, from packaged templates: every resource the stack creates (type, logical id and
 * what it is) and what the stack costs a month with no traffic. `npm run docs:deploy` writes them; the stack tier
 * checks them against the templates it packages.
 */
import type { Resource } from './local-iam/policy.ts';
import type { ReadmeSection } from './readme-section.ts';
import type { Template } from './offline-package.ts';

export const RESOURCES_SECTION: ReadmeSection = {
  start: '<!-- stack-resources:start -->',
  end: '<!-- stack-resources:end -->',
};
export const IDLE_COST_SECTION: ReadmeSection = { start: '<!-- idle-cost:start -->', end: '<!-- idle-cost:end -->' };

/** List prices in us-east-1 (USD), as the idle-cost section states them. */
export const PRICES = {
  alarmMonth: 0.1,
  sqsMillionRequests: 0.4,
  logsGbMonth: 0.03,
  dynamoDbGbMonth: 0.25,
  pitrGbMonth: 0.2,
  s3GbMonth: 0.023,
} as const;

/**
 * Receives a month of Lambda's pollers make on an empty queue: 5 long polls at a time, each waiting up to 20 s (AWS's
 * documented behaviour of an SQS event source), so 5 x 3 a minute over 43,800 minutes.
 */
export const IDLE_POLLS_PER_QUEUE_MONTH = 5 * 3 * 43_800;

/** Lambda versions and API deployments carry a hash of their content in their logical id; the docs name the kind. */
export function stableId(logicalId: string): string {
  return logicalId.replace(
    /^(\w*?(?:LambdaVersion|WebsocketsDeployment|HttpApiDeployment))[A-Za-z0-9]{30,}$/,
    '$1<hash>',
  );
}

const text = (value: unknown): string => (typeof value === 'string' || typeof value === 'number' ? String(value) : '');

/** The logical ids a value refers to (Ref, Fn::GetAtt), in order. */
function referenced(value: unknown): string[] {
  const json = JSON.stringify(value ?? null);
  return [...json.matchAll(/"Ref":"(\w+)"|"Fn::GetAtt":\["(\w+)"/g)].map((match) => match[1] ?? match[2] ?? '');
}

/** `ConnectLambdaFunction` is the connect function; the role a function runs with is named by the function. */
function functionOf(logicalId: string): string {
  const name = logicalId.replace(/LambdaFunction$/, '');
  return name === 'Fanout' ? 'the fan-out worker' : `the ${name.charAt(0).toLowerCase()}${name.slice(1)} function`;
}

/** What a resource is, in a line, from its type and properties. */
function describe(id: string, resource: Resource, template: Template): string {
  const p = resource.Properties ?? {};
  const refs = referenced(p);
  const fn = refs.find((ref) => ref.endsWith('LambdaFunction'));
  switch (resource.Type) {
    case 'AWS::S3::Bucket':
      return "the deployment bucket: osls uploads the functions' packages and the template to it";
    case 'AWS::S3::BucketPolicy':
      return 'refuses every request to the deployment bucket that does not use TLS';
    case 'AWS::Logs::LogGroup': {
      const name = text(p['LogGroupName']) || text((p['LogGroupName'] as Record<string, unknown>)?.['Fn::Sub']);
      return `log group \`${name.replace('${WebsocketsApi}', '<api-id>')}\`, kept ${text(p['RetentionInDays'])} days`;
    }
    case 'AWS::Lambda::Function':
      return `${functionOf(id)} (\`${text(p['FunctionName'])}\`, ${text(p['MemorySize'])} MB): ${text(p['Description'])}`;
    case 'AWS::Lambda::Version':
      return `a published version of ${functionOf(fn ?? '')}: a new one whenever its code or settings change`;
    case 'AWS::Lambda::Permission':
      return `lets API Gateway invoke ${functionOf(fn ?? '')}`;
    case 'AWS::Lambda::EventSourceMapping':
      return `runs ${functionOf(fn ?? '')} on the jobs of \`${refs.find((ref) => ref !== fn) ?? ''}\`, at most ${text((p['ScalingConfig'] as Record<string, unknown>)?.['MaximumConcurrency'])} at once`;
    case 'AWS::ApiGatewayV2::Api':
      return `the ${text(p['ProtocolType']).toLowerCase()} API \`${text(p['Name'])}\``;
    case 'AWS::ApiGatewayV2::Integration':
      return `hands a route's requests to ${functionOf(fn ?? '')}`;
    case 'AWS::ApiGatewayV2::Route':
      return `the route \`${text(p['RouteKey'])}\`${p['AuthorizationType'] === 'CUSTOM' ? ', behind the token authorizer' : ''}`;
    case 'AWS::ApiGatewayV2::Authorizer':
      return "the token authorizer of `$connect`: runs the authorizer function on the handshake's `?token=`";
    case 'AWS::ApiGatewayV2::Stage':
      return `the stage \`${text(p['StageName'])}\`, throttled, with access and execution logs`;
    case 'AWS::ApiGatewayV2::Deployment':
      return "a deployment of the API's routes: a new one whenever they change";
    case 'AWS::IAM::Role': {
      const user = Object.entries(template.Resources).find(
        ([, r]) => r.Type === 'AWS::Lambda::Function' && referenced(r.Properties?.['Role']).includes(id),
      );
      return `the role of ${functionOf(user?.[0] ?? id)}: only the calls its handler makes`;
    }
    case 'AWS::SQS::Queue': {
      const redrive = p['RedrivePolicy'] as Record<string, unknown> | undefined;
      return redrive === undefined
        ? `the queue \`${text(p['QueueName'])}\`: fan-out jobs that failed every attempt`
        : `the queue \`${text(p['QueueName'])}\` of fan-out jobs; a job received ${text(redrive['maxReceiveCount'])} times moves to the dead-letter queue`;
    }
    case 'AWS::SNS::Topic':
      return 'the topic every alarm notifies';
    case 'AWS::SNS::Subscription':
      return `subscribes the \`alarmEmail\` address to the alarm topic`;
    case 'AWS::CloudWatch::Alarm':
      return `alarm: ${text(p['AlarmDescription'])}`;
    case 'AWS::DynamoDB::Table':
      return `the table \`${text(p['TableName'])}\` (connections, rooms, history), ${p['BillingMode'] === 'PAY_PER_REQUEST' ? 'on demand' : 'provisioned'}, with TTL and point-in-time recovery`;
    default:
      return '';
  }
}

/** What a resource's CloudFormation condition means, in the words of its param. */
const CONDITIONS: Readonly<Record<string, string>> = { HasAlarmEmail: 'only when `alarmEmail` is set' };

/** One row per resource, by type and then logical id: a hashed id's place would change with its hash. */
function rows(ids: readonly string[], template: Template): string[] {
  const typeOf = (id: string): string => template.Resources[id]?.Type ?? '';
  const sorted = [...ids].sort((a, b) => typeOf(a).localeCompare(typeOf(b)) || stableId(a).localeCompare(stableId(b)));
  return sorted.map((id) => {
    const resource = template.Resources[id] as Resource & { Condition?: string };
    const condition =
      resource.Condition === undefined ? '' : ` (${CONDITIONS[resource.Condition] ?? resource.Condition})`;
    return `| \`${stableId(id)}\` | \`${resource.Type}\` | ${describe(id, resource, template)}${condition} |`;
  });
}

/** The resources section: the stack with the default params, then what `authMode=jwt` adds. */
export function resourcesSection(plain: Template, jwt: Template): string {
  const plainIds = new Set(Object.keys(plain.Resources).map(stableId));
  const added = Object.keys(jwt.Resources).filter((id) => !plainIds.has(stableId(id)));
  const header = ['| Logical id | Type | What it is |', '| --- | --- | --- |'];
  return [
    `With the default params (stage \`dev\`): ${Object.keys(plain.Resources).length} resources.`,
    '',
    ...header,
    ...rows(Object.keys(plain.Resources), plain),
    '',
    `With \`authMode=jwt\`, also:`,
    '',
    ...header,
    ...rows(added, jwt),
  ].join('\n');
}

const dollars = (amount: number): string => `$${amount.toFixed(2)}`;

/** The idle-cost section: what the stack costs a month with no connections, from the resources it creates. */
export function idleCostSection(template: Template): string {
  const resources = Object.values(template.Resources);
  const count = (type: string): number => resources.filter((r) => r.Type === type).length;
  const alarms = count('AWS::CloudWatch::Alarm');
  const polledQueues = count('AWS::Lambda::EventSourceMapping');
  const alarmCost = alarms * PRICES.alarmMonth;
  const pollCost = (polledQueues * IDLE_POLLS_PER_QUEUE_MONTH * PRICES.sqsMillionRequests) / 1_000_000;
  const onDemand = resources.every(
    (r) => r.Type !== 'AWS::DynamoDB::Table' || r.Properties?.['BillingMode'] === 'PAY_PER_REQUEST',
  );
  return [
    '| What | With no traffic, a month | Why |',
    '| --- | --- | --- |',
    `| ${alarms} CloudWatch alarms | ${dollars(alarmCost)} | ${dollars(PRICES.alarmMonth)} per standard alarm a month, whether or not it fires |`,
    `| Lambda polling ${polledQueues} SQS queue${polledQueues === 1 ? '' : 's'} | ${dollars(pollCost)} | an SQS event source long-polls even an empty queue: about ${(IDLE_POLLS_PER_QUEUE_MONTH / 1_000_000).toFixed(2)} million receives a month per queue, at ${dollars(PRICES.sqsMillionRequests)} a million |`,
    `| DynamoDB table | $0.00 | ${onDemand ? 'on demand: no requests, no charge' : 'provisioned: its capacity is charged'}; storage ${dollars(PRICES.dynamoDbGbMonth)} and point-in-time recovery ${dollars(PRICES.pitrGbMonth)} per GB a month, a few KB when idle |`,
    `| ${count('AWS::Logs::LogGroup')} log groups | $0.00 | nothing is written; ${dollars(PRICES.logsGbMonth)} per GB a month of kept logs |`,
    `| S3 deployment bucket | $0.00 | a few MB of packages (osls keeps the last 5 deployments), ${dollars(PRICES.s3GbMonth)} per GB a month |`,
    "| Lambda, API Gateway, SNS, the dead-letter queue, the functions' custom metrics | $0.00 | charged per request, message, connection minute or metric that receives data only |",
    `| **Total** | **about ${dollars(alarmCost + pollCost)}** | before the free tier, which covers 10 alarms and 1 million SQS requests a month |`,
  ].join('\n');
}
