/**
 * A serverless-offline companion (serverless.yml's `plugins:`): the template's SQS queues in the emulator's own
 * process, and Lambda's SQS event source for every function with an `sqs` event. It starts fauxqs on
 * `custom.offlineSqs.endpoint` (loopback), creates the `AWS::SQS::Queue` resources with their visibility timeouts
 * and redrive policies, gives the functions the queues' URLs where the template says `Ref` (and SQS_ENDPOINT), and
 * invokes each function through the emulator's Lambda API (RequestResponse: a handler that throws fails its batch,
 * never the emulator), deleting only the records its `batchItemFailures` do not name (`custom.offlineSqs.poll:
 * false` leaves the queues unpolled, for a test that runs a worker itself). Only `serverless offline` runs it;
 * packaging and deploying load it and do nothing.
 */
import { connect } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import type { SQSEvent } from 'aws-lambda';
import {
  createQueues,
  type LocalQueue,
  localQueueNames,
  localSqsClient,
  logicalIdOf,
  queueResources,
  startLocalSqs,
} from './local-sqs.ts';
import { type InvocationOutcome, SqsEventSource } from './sqs-event-source.ts';

/** Offline, an event source without maximumConcurrency runs this many invocations at once (AWS scales far higher). */
const DEFAULT_CONCURRENCY = 5;
const DEFAULT_ENDPOINT = 'http://127.0.0.1:9324';

interface SqsEvent {
  readonly arn?: unknown;
  readonly batchSize?: unknown;
  readonly maximumBatchingWindow?: unknown;
  readonly functionResponseType?: unknown;
  readonly maximumConcurrency?: unknown;
  readonly enabled?: unknown;
}

interface FunctionDefinition {
  name?: string;
  timeout?: number;
  environment?: Record<string, unknown>;
  events?: ReadonlyArray<{ readonly sqs?: SqsEvent | string }>;
}

/** The parts of osls's `serverless` object this plugin reads and writes. */
interface Serverless {
  readonly service: {
    readonly service: string;
    readonly provider: { stage: string; region?: string; timeout?: number; environment?: Record<string, unknown> };
    readonly custom?: {
      readonly offlineSqs?: { readonly endpoint?: unknown; readonly poll?: unknown };
      readonly 'serverless-offline'?: Record<string, unknown>;
    };
    readonly resources?: { readonly Resources?: Record<string, unknown> };
    getAllFunctions(): string[];
    getFunction(key: string): FunctionDefinition;
  };
}

interface Log {
  notice(message: string): void;
  warning(message: string): void;
}

const numberOr = (value: unknown, fallback: number): number =>
  value === undefined || value === null || value === '' || !Number.isFinite(Number(value)) ? fallback : Number(value);

/** The local queue that a function's `sqs` event names, by `Fn::GetAtt: [Queue, Arn]` or by ARN. */
function queueOf(arn: unknown, queues: ReadonlyMap<string, LocalQueue>): LocalQueue | undefined {
  const reference = logicalIdOf(arn);
  if (reference !== undefined) return queues.get(reference.logicalId);
  if (typeof arn !== 'string') return undefined;
  const name = arn.split(':').at(-1);
  return [...queues.values()].find((queue) => queue.name === name);
}

/** What the template's `Ref` and `Fn::GetAtt` of a queue evaluate to on AWS: its URL, ARN or name. */
function resolveQueueReference(value: unknown, queues: ReadonlyMap<string, LocalQueue>): unknown {
  const reference = logicalIdOf(value);
  const queue = reference === undefined ? undefined : queues.get(reference.logicalId);
  if (reference === undefined || queue === undefined) return value;
  if (reference.attribute === 'Ref' || reference.attribute === 'QueueUrl') return queue.url;
  if (reference.attribute === 'Arn') return queue.arn;
  if (reference.attribute === 'QueueName') return queue.name;
  return value;
}

/** Whether something accepts TCP connections on the address yet. */
function accepts(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(port, host);
    socket.once('connect', () => socket.end(() => resolve(true)));
    socket.once('error', () => resolve(false));
  });
}

export default class OfflineSqsPlugin {
  readonly hooks: Record<string, () => Promise<void>>;
  readonly #serverless: Serverless;
  readonly #options: Record<string, unknown>;
  readonly #log: Log;
  readonly #sources: SqsEventSource[] = [];
  #stopServer: (() => Promise<void>) | undefined;

  constructor(serverless: Serverless, options: Record<string, unknown>, utils?: { log?: Log }) {
    this.#serverless = serverless;
    this.#options = options;
    this.#log = utils?.log ?? { notice: console.log, warning: console.warn };
    // `serverless offline` runs offline:start itself (not its init/end events); `serverless offline start` runs both.
    this.hooks = {
      'before:offline:start': () => this.#start(),
      'before:offline:start:init': () => this.#start(),
      'offline:start:end': () => this.#stop(),
    };
  }

  async #start(): Promise<void> {
    if (this.#stopServer !== undefined) return;
    const { service } = this.#serverless;
    const endpoint = new URL(String(service.custom?.offlineSqs?.endpoint ?? '') || DEFAULT_ENDPOINT);
    if (!['127.0.0.1', 'localhost', '[::1]'].includes(endpoint.hostname))
      throw new Error(`custom.offlineSqs.endpoint must be a loopback address, not ${endpoint.hostname}`);
    const server = await startLocalSqs(Number(endpoint.port));
    this.#stopServer = () => server.stop();
    const client = localSqsClient(server.endpoint);
    const queues = await createQueues(
      client,
      queueResources(service.resources?.Resources ?? {}),
      localQueueNames(service.service, service.provider.stage),
    );
    this.#log.notice(
      `Offline [sqs] listening on ${server.endpoint}: ${[...queues.values()].map((q) => q.name).join(', ') || 'no queues'}`,
    );

    // The handlers reach the queue at the local endpoint, by the URLs that the template's Refs stand for.
    service.provider.environment = { ...service.provider.environment, SQS_ENDPOINT: server.endpoint };
    const environments = [
      service.provider.environment,
      ...service.getAllFunctions().map((key) => service.getFunction(key).environment ?? {}),
    ];
    for (const environment of environments)
      for (const [name, value] of Object.entries(environment)) environment[name] = resolveQueueReference(value, queues);

    // A test that runs a queue's worker itself (to make it fail on purpose) turns the event sources off.
    const poll = service.custom?.offlineSqs?.poll;
    if (poll === false || poll === 'false') {
      this.#log.notice('Offline [sqs] not polling: custom.offlineSqs.poll is false');
      return;
    }
    // The emulator's Lambda API starts after this hook returns; poll only once it answers, or the first receives
    // would count against the messages' maxReceiveCount with nothing to run them. The sources are made then, after
    // every plugin's start: they poll with what each function is given by then (scripts/offline-iam-plugin.ts gives
    // it credentials of its own and a checked endpoint), as Lambda's event source polls with the function's role.
    void this.#startWhenLambdaListens(() => this.#eventSources(queues));
  }

  /** An SQS client with the function's own endpoint and credentials, as its event source polls on AWS. */
  #clientOf(fn: FunctionDefinition): ReturnType<typeof localSqsClient> {
    const environment = { ...this.#serverless.service.provider.environment, ...fn.environment };
    const text = (name: string): string | undefined =>
      typeof environment[name] === 'string' && environment[name] !== '' ? environment[name] : undefined;
    const accessKeyId = text('AWS_ACCESS_KEY_ID');
    const secretAccessKey = text('AWS_SECRET_ACCESS_KEY');
    return localSqsClient(
      text('SQS_ENDPOINT') ?? DEFAULT_ENDPOINT,
      accessKeyId === undefined || secretAccessKey === undefined ? undefined : { accessKeyId, secretAccessKey },
    );
  }

  #eventSources(queues: ReadonlyMap<string, LocalQueue>): SqsEventSource[] {
    const { service } = this.#serverless;
    return service.getAllFunctions().flatMap((key) => {
      const fn = service.getFunction(key);
      const functionName = fn.name ?? key;
      const client = this.#clientOf(fn);
      return (fn.events ?? []).flatMap(({ sqs }) => {
        if (sqs === undefined) return [];
        const event: SqsEvent = typeof sqs === 'string' ? { arn: sqs } : sqs;
        if (event.enabled === false) return [];
        const queue = queueOf(event.arn, queues);
        if (queue === undefined) {
          this.#log.warning(
            `Offline [sqs] ${key}: its sqs event names a queue that is not in the template's resources`,
          );
          return [];
        }
        return [
          new SqsEventSource({
            client,
            queueUrl: queue.url,
            functionName,
            batchSize: numberOr(event.batchSize, 10),
            maximumBatchingWindowSeconds: numberOr(event.maximumBatchingWindow, 0),
            maximumConcurrency: numberOr(event.maximumConcurrency, DEFAULT_CONCURRENCY),
            reportBatchItemFailures: event.functionResponseType === 'ReportBatchItemFailures',
            functionTimeoutSeconds: numberOr(fn.timeout ?? service.provider.timeout, 6),
            invoke: (sqsEvent) => this.#invoke(functionName, sqsEvent),
            log: (line) => this.#log.notice(`Offline [sqs] ${line}`),
          }),
        ];
      });
    });
  }

  #lambdaAddress(): { host: string; port: number } {
    const custom = this.#serverless.service.custom?.['serverless-offline'] ?? {};
    const host = String(this.#options['host'] ?? custom['host'] ?? 'localhost');
    const port = numberOr(this.#options['lambdaPort'] ?? custom['lambdaPort'], 3002);
    return { host, port };
  }

  async #startWhenLambdaListens(makeSources: () => readonly SqsEventSource[]): Promise<void> {
    const { host, port } = this.#lambdaAddress();
    while (!(await accepts(host, port))) {
      if (this.#stopServer === undefined) return;
      await sleep(100);
    }
    for (const source of makeSources()) {
      await source
        .start()
        .catch((error: unknown) => this.#log.warning(`Offline [sqs] could not start: ${String(error)}`));
      this.#sources.push(source);
    }
  }

  /** A RequestResponse invocation through the emulator's Lambda API, as Lambda's event source makes it. */
  async #invoke(functionName: string, event: SQSEvent): Promise<InvocationOutcome> {
    const { host, port } = this.#lambdaAddress();
    const response = await fetch(`http://${host}:${port}/2015-03-31/functions/${functionName}/invocations`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-amz-invocation-type': 'RequestResponse' },
      body: JSON.stringify(event),
    });
    const text = await response.text();
    let payload: unknown;
    try {
      payload = text === '' ? undefined : JSON.parse(text);
    } catch {
      payload = text;
    }
    if (response.status !== 200 || response.headers.has('x-amz-function-error')) {
      const message = (payload as { errorMessage?: unknown } | undefined)?.errorMessage;
      return { error: `${response.status} ${typeof message === 'string' ? message : text.slice(0, 500)}` };
    }
    return { result: payload };
  }

  async #stop(): Promise<void> {
    const stopServer = this.#stopServer;
    this.#stopServer = undefined;
    await Promise.all(this.#sources.splice(0).map((source) => source.stop()));
    await stopServer?.();
  }
}
