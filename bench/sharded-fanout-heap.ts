/**
 * One fan-out worker's heap, in a fresh process (run with --expose-gc) built as a Lambda container is: the
 * fan-out function's real handler over the composition root's own clients (DynamoDB, SQS, `@connections`),
 * talking to bench/sharded-fanout-stub.ts over loopback HTTP. Runs shard jobs of a full page each (one
 * invocation of one record, then one of `batch` records) and prints one JSON line: peak heap and RSS, and the
 * CPU of reading one page.
 */
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { GCProfiler } from 'node:v8';
import type { Context, SQSEvent } from 'aws-lambda';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { fromEnv } from '@aws-sdk/credential-provider-env';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { DynamoDbConnectionRepository } from '../src/adapters/dynamodb-connection-repository.ts';
import { messageBodyOf } from '../src/adapters/sqs-fan-out-queue.ts';
import type { ShardJob } from '../src/domain/fan-out-queue.ts';
import { loadConfig } from '../src/handlers/wiring/config.ts';
import { median } from './stats.ts';

export interface ShardHeapParams {
  /** Records in the second invocation's batch. */
  readonly batch: number;
  readonly queryMs: number;
}

export interface ShardHeapResult {
  readonly shardSize: number;
  readonly jobs: number;
  readonly deliveries: number;
  readonly baselineHeapMb: number;
  readonly peakHeapMb: number;
  readonly peakRssMb: number;
  /** The most heap any full collection during the jobs left in use: the live heap's peak, garbage aside. */
  readonly peakAfterGcMb: number;
  readonly collections: number;
  /** Heap after the jobs and a full GC: what the container keeps between invocations. */
  readonly retainedHeapMb: number;
  /** CPU of one listShard of a full page through the real adapter and SDK (median of 5). */
  readonly listCpuMs: number;
  /** The whole jobs' CPU per delivery (listing, queueing, sends to the loopback stub, the handler). */
  readonly cpuUsPerDelivery: number;
}

const stubPath = fileURLToPath(new URL('./sharded-fanout-stub.ts', import.meta.url));
const mb = (bytes: number): number => bytes / 1024 / 1024;

function startStub(queryMs: number): Promise<{ port: number; stop: () => void }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [stubPath], {
      stdio: ['ignore', 'pipe', 'inherit'],
      env: { ...process.env, STUB_QUERY_MS: String(queryMs) },
    });
    child.once('error', reject);
    child.stdout.once('data', (chunk: Buffer) =>
      resolve({ port: Number(chunk.toString().trim()), stop: () => child.kill('SIGTERM') }),
    );
  });
}

async function measure(params: ShardHeapParams): Promise<ShardHeapResult> {
  const stub = await startStub(params.queryMs);
  const base = `http://127.0.0.1:${stub.port}`;
  // What Lambda and serverless.yml give the fan-out function; the endpoints point at the stub.
  Object.assign(process.env, {
    AWS_ACCESS_KEY_ID: 'AKIDBENCH',
    AWS_SECRET_ACCESS_KEY: 'bench-secret',
    AWS_SESSION_TOKEN: 'bench-token',
    AWS_REGION: 'us-east-1',
    AWS_ENDPOINT_URL_DYNAMODB: base,
    CHAT_TABLE: 'ws-chat-bench',
    WEBSOCKET_MANAGEMENT_ENDPOINT: base,
    FANOUT_QUEUE_URL: `${base}/123456789012/ws-chat-bench-fanout`,
    PRESENCE_QUEUE_URL: `${base}/123456789012/ws-chat-bench-presence`,
    SQS_ENDPOINT: base,
    POWERTOOLS_LOG_LEVEL: 'ERROR',
    POWERTOOLS_METRICS_NAMESPACE: 'WsChat',
    POWERTOOLS_DEV: 'false',
  });
  const config = loadConfig(process.env);
  const { handler } = await import('../src/handlers/functions/fanout.ts');

  // The listing alone: the adapter as the composition root builds it, a full page per call.
  const repository = new DynamoDbConnectionRepository(
    DynamoDBDocumentClient.from(new DynamoDBClient({ credentials: fromEnv() })),
    { tableName: config.chatTable, shards: config.roomShards },
  );
  await repository.listShard('stage', 0, config.fanOutShardSize);
  const listCpu: number[] = [];
  for (let i = 0; i < 5; i += 1) {
    const before = process.cpuUsage();
    await repository.listShard('stage', 0, config.fanOutShardSize);
    const used = process.cpuUsage(before);
    listCpu.push((used.user + used.system) / 1000);
  }

  const job = (shard: number): ShardJob => ({
    kind: 'shard',
    fanOutId: 'heap',
    room: 'stage',
    shard,
    page: 0,
    frame: {
      type: 'message',
      id: '7d1d5c44-0b5e-4a1e-9f6e-2f4c3c1b9a10',
      seq: 1,
      room: 'stage',
      from: 'QAbCdEfGhIjK=',
      name: 'Guest 0',
      text: 'hello everyone, this is the sharded fan-out benchmark',
      sentAt: '2030-01-01T00:00:00.000Z',
    },
  });
  const event = (count: number, first: number): SQSEvent => ({
    Records: Array.from({ length: count }, (_, i) => ({
      messageId: `m-${first + i}`,
      receiptHandle: `r-${first + i}`,
      body: messageBodyOf(job((first + i) % config.roomShards)),
      attributes: {
        ApproximateReceiveCount: '1',
        SentTimestamp: '1893456000000',
        SenderId: 'AROAEXAMPLE:message',
        ApproximateFirstReceiveTimestamp: '1893456000010',
      },
      messageAttributes: {},
      md5OfBody: '',
      eventSource: 'aws:sqs',
      eventSourceARN: 'arn:aws:sqs:us-east-1:123456789012:ws-chat-bench-fanout',
      awsRegion: 'us-east-1',
    })),
  });
  const context = (deadline: number): Context => ({
    callbackWaitsForEmptyEventLoop: false,
    functionName: 'ws-chat-bench-fanout',
    functionVersion: '$LATEST',
    invokedFunctionArn: 'arn:aws:lambda:us-east-1:123456789012:function:ws-chat-bench-fanout',
    memoryLimitInMB: '1769',
    awsRequestId: `req-${deadline}`,
    logGroupName: '/aws/lambda/ws-chat-bench-fanout',
    logStreamName: 'bench',
    getRemainingTimeInMillis: () => deadline - Date.now(),
    done: () => undefined,
    fail: () => undefined,
    succeed: () => undefined,
  });

  const gc = (globalThis as { gc?: () => void }).gc;
  gc?.();
  const baseline = process.memoryUsage().heapUsed;
  let peakHeap = baseline;
  let peakRss = process.memoryUsage.rss();
  const sample = (): void => {
    peakHeap = Math.max(peakHeap, process.memoryUsage().heapUsed);
    peakRss = Math.max(peakRss, process.memoryUsage.rss());
  };
  const sampler = setInterval(sample, 2);
  const profiler = new GCProfiler();
  profiler.start();
  const cpuBefore = process.cpuUsage();
  let failed = 0;
  const first = await handler(event(1, 0), context(Date.now() + 29_000));
  failed += first.batchItemFailures.length;
  const second = await handler(event(params.batch, 1), context(Date.now() + 29_000));
  failed += second.batchItemFailures.length;
  const cpu = process.cpuUsage(cpuBefore);
  clearInterval(sampler);
  sample();
  const collections = profiler.stop()?.statistics ?? [];
  // Only a full (mark-compact) collection leaves the live heap alone; a scavenge leaves old garbage in place.
  const full = collections.filter((c) => c.gcType === 'MarkSweepCompact');
  const peakAfterGc = Math.max(0, ...full.map((c) => c.afterGC.heapStatistics.usedHeapSize));
  gc?.();
  const retained = process.memoryUsage().heapUsed;
  stub.stop();
  if (failed > 0) throw new Error(`${failed} shard jobs failed against the stub`);
  const jobs = 1 + params.batch;
  const deliveries = jobs * config.fanOutShardSize;
  return {
    shardSize: config.fanOutShardSize,
    jobs,
    deliveries,
    baselineHeapMb: mb(baseline),
    peakHeapMb: mb(peakHeap),
    peakRssMb: mb(peakRss),
    peakAfterGcMb: mb(peakAfterGc),
    collections: full.length,
    retainedHeapMb: mb(retained),
    listCpuMs: median(listCpu),
    cpuUsPerDelivery: ((cpu.user + cpu.system) / deliveries) | 0,
  };
}

const raw = process.argv[2];
if (raw === undefined) throw new Error('usage: node --expose-gc bench/sharded-fanout-heap.ts <params json>');
const result = await measure(JSON.parse(raw) as ShardHeapParams);
process.stdout.write(`${JSON.stringify(result)}\n`);
process.exit(0);
