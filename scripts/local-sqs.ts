/**
 * The local SQS: fauxqs on a loopback port, its queues made from serverless.yml's `AWS::SQS::Queue` resources, and
 * SQS clients that reach it. Used by the offline SQS plugin (in serverless-offline's process) and by the tests.
 */
import {
  CreateQueueCommand,
  GetQueueAttributesCommand,
  type QueueAttributeName,
  SetQueueAttributesCommand,
  SQSClient,
} from '@aws-sdk/client-sqs';
import { refuseWebPages } from './refuse-web-pages.ts';

export const LOCAL_SQS_REGION = 'us-east-1';

/** fauxqs, listening on 127.0.0.1 only, for programs on this machine only. */
export interface LocalSqs {
  readonly endpoint: string;
  stop(): Promise<void>;
}

/**
 * Starts fauxqs on `127.0.0.1:<port>` (0 picks a free port). Its own `startFauxqs` listens on every interface, so
 * the server is built with `buildApp` and bound to loopback here. A request from a web page is refused: fauxqs
 * serves SNS's query protocol too, as a form POST that any page can send without a preflight.
 */
export async function startLocalSqs(port: number): Promise<LocalSqs> {
  const { buildApp } = await import('fauxqs');
  const app = buildApp({ logger: false, defaultRegion: LOCAL_SQS_REGION });
  refuseWebPages(app.server);
  const address = await app.listen({ port, host: '127.0.0.1' });
  return {
    endpoint: new URL(address).origin,
    stop: () => app.close(),
  };
}

/**
 * An SQS client for a local endpoint, with the dummy credentials fauxqs accepts (or a function's own, which the
 * local IAM tells it by). fauxqs names queues by a host
 * that need not resolve (`sqs.us-east-1.localhost`), so requests go to the endpoint, never to a queue URL's host.
 */
export function localSqsClient(
  endpoint: string,
  credentials: { accessKeyId: string; secretAccessKey: string } = { accessKeyId: 'local', secretAccessKey: 'local' },
): SQSClient {
  return new SQSClient({
    endpoint,
    region: LOCAL_SQS_REGION,
    credentials,
    useQueueUrlAsEndpoint: false,
  });
}

/** A queue as the template declares it: its logical id and properties, CloudFormation intrinsics unresolved. */
export interface QueueResource {
  readonly logicalId: string;
  readonly properties: Readonly<Record<string, unknown>>;
}

/** A queue made locally. */
export interface LocalQueue {
  readonly logicalId: string;
  readonly name: string;
  readonly url: string;
  readonly arn: string;
}

/** The template's queues, from its `Resources`. */
export function queueResources(resources: Readonly<Record<string, unknown>>): QueueResource[] {
  return Object.entries(resources).flatMap(([logicalId, resource]) => {
    if (typeof resource !== 'object' || resource === null) return [];
    const { Type, Properties } = resource as { Type?: unknown; Properties?: unknown };
    if (Type !== 'AWS::SQS::Queue') return [];
    const properties = typeof Properties === 'object' && Properties !== null ? Properties : {};
    return [{ logicalId, properties: properties as Record<string, unknown> }];
  });
}

/** The queue attributes a template's properties set directly (everything but RedrivePolicy and the name). */
const PLAIN_ATTRIBUTES = [
  'DelaySeconds',
  'MaximumMessageSize',
  'MessageRetentionPeriod',
  'ReceiveMessageWaitTimeSeconds',
  'VisibilityTimeout',
  'FifoQueue',
  'ContentBasedDeduplication',
] as const;

/** `Fn::GetAtt: [Queue, Arn]` or `Ref: Queue` as a logical id; anything else as undefined. */
export function logicalIdOf(value: unknown): { logicalId: string; attribute: string } | undefined {
  if (typeof value !== 'object' || value === null) return undefined;
  const { Ref, 'Fn::GetAtt': getAtt } = value as { Ref?: unknown; 'Fn::GetAtt'?: unknown };
  if (typeof Ref === 'string') return { logicalId: Ref, attribute: 'Ref' };
  if (Array.isArray(getAtt) && typeof getAtt[0] === 'string' && typeof getAtt[1] === 'string')
    return { logicalId: getAtt[0], attribute: getAtt[1] };
  if (typeof getAtt === 'string' && getAtt.includes('.')) {
    const [logicalId = '', attribute = ''] = getAtt.split('.');
    return { logicalId, attribute };
  }
  return undefined;
}

/** What the local stack names a queue without a QueueName: `<service>-<stage>-<logicalId>`. */
export const localQueueNames =
  (service: string, stage: string) =>
  (logicalId: string): string =>
    `${service}-${stage}-${logicalId}`;

/** A queue's name: its QueueName, else `fallbackName`'s. */
export const queueNameOf = (
  { logicalId, properties }: QueueResource,
  fallbackName: (logicalId: string) => string,
): string => (typeof properties['QueueName'] === 'string' ? properties['QueueName'] : fallbackName(logicalId));

/**
 * Creates the template's queues (an existing one is kept), then gives each its redrive policy, whose dead-letter
 * queue may be any other of them. `fallbackName` names a queue without a QueueName, as CloudFormation would.
 */
export async function createQueues(
  client: SQSClient,
  resources: readonly QueueResource[],
  fallbackName: (logicalId: string) => string,
): Promise<Map<string, LocalQueue>> {
  const queues = new Map<string, LocalQueue>();
  for (const resource of resources) {
    const { logicalId, properties } = resource;
    const name = queueNameOf(resource, fallbackName);
    const attributes: Partial<Record<QueueAttributeName, string>> = {};
    for (const attribute of PLAIN_ATTRIBUTES) {
      const value = properties[attribute];
      if (value !== undefined) attributes[attribute] = String(value);
    }
    const { QueueUrl: url } = await client.send(new CreateQueueCommand({ QueueName: name, Attributes: attributes }));
    const { Attributes } = await client.send(
      new GetQueueAttributesCommand({ QueueUrl: url, AttributeNames: ['QueueArn'] }),
    );
    const arn = Attributes?.QueueArn;
    if (url === undefined || arn === undefined) throw new Error(`the local SQS did not create ${name}`);
    queues.set(logicalId, { logicalId, name, url, arn });
  }
  for (const { logicalId, properties } of resources) {
    const redrive = properties['RedrivePolicy'];
    if (typeof redrive !== 'object' || redrive === null) continue;
    const { deadLetterTargetArn, maxReceiveCount } = redrive as Record<string, unknown>;
    const target = logicalIdOf(deadLetterTargetArn);
    const targetArn = target === undefined ? deadLetterTargetArn : queues.get(target.logicalId)?.arn;
    if (typeof targetArn !== 'string')
      throw new Error(`${logicalId}: its dead-letter queue is not a queue of the template`);
    await client.send(
      new SetQueueAttributesCommand({
        QueueUrl: queues.get(logicalId)?.url,
        Attributes: {
          RedrivePolicy: JSON.stringify({ deadLetterTargetArn: targetArn, maxReceiveCount: Number(maxReceiveCount) }),
        },
      }),
    );
  }
  return queues;
}
