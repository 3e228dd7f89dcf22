/**
 * One messenger measurement in a fresh process (run with --expose-gc): `sends` PostToConnection calls to the
 * loopback stub at `endpoint`, `inFlight` at a time, through one way of sending. Measures this process only:
 * CPU from `process.cpuUsage()` around the measured sends, allocated bytes as the heap's growth plus what every
 * garbage collection in between freed (`v8.GCProfiler`). Prints one JSON line.
 */
import { Agent, request } from 'node:http';
import { fileURLToPath } from 'node:url';
import { GCProfiler } from 'node:v8';
import { ApiGatewayManagementApiClient, PostToConnectionCommand } from '@aws-sdk/client-apigatewaymanagementapi';
import { Sha256 } from '@smithy/core/checksum';
import { SignatureV4 } from '@smithy/signature-v4';
import { buildMessenger } from '../src/handlers/wiring/build-messenger.ts';
import { loadConfig } from '../src/handlers/wiring/config.ts';
import type { ChatMessage } from '../src/domain/frames.ts';

export const MESSENGER_VARIANTS = ['ours', 'naive', 'floor signed', 'floor unsigned', 'floor signed, batched'] as const;
export type MessengerVariant = (typeof MESSENGER_VARIANTS)[number];

export interface MessengerParams {
  readonly variant: MessengerVariant;
  readonly endpoint: string;
  readonly sends: number;
  readonly inFlight: number;
  readonly warmup: number;
}

export interface MessengerResult {
  readonly variant: MessengerVariant;
  readonly sends: number;
  readonly failed: number;
  readonly cpuUs: number;
  readonly wallMs: number;
  readonly allocatedBytes: number;
  readonly gcCount: number;
}

/** What a Lambda's environment gives the SDK: a region and the role's temporary credentials. */
const LAMBDA_ENV = {
  AWS_REGION: 'us-east-1',
  AWS_ACCESS_KEY_ID: 'ASIAEXAMPLEEXAMPLE00',
  AWS_SECRET_ACCESS_KEY: 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY',
  AWS_SESSION_TOKEN: 'IQoJb3JpZ2luX2VjEXAMPLESESSIONTOKEN',
};

/** A typical chat message frame; the fan-out hands the same object to every recipient. */
const frame: ChatMessage = {
  type: 'message',
  id: '01JD7Q3ZQ8WJ4M6T2V9X5Y0ABC',
  seq: 1042,
  room: 'lobby',
  from: 'Q0000001AbCdEfG=',
  name: 'Guest 7f3a',
  text: 'hello everyone, this is a benchmark message with a few more words in it',
  sentAt: '2026-11-30T12:00:00.000Z',
};
const body = Buffer.from(JSON.stringify(frame));
const idOf = (index: number): string => `Q${index.toString(36).padStart(7, '0')}AbCdEfG=`;

type Send = (index: number) => Promise<unknown>;

/** Runs `count` sends with at most `inFlight` in flight, the way ChatService's runBounded does. */
async function bounded(count: number, inFlight: number, send: Send): Promise<number> {
  let next = 0;
  let failed = 0;
  const lane = async (): Promise<void> => {
    while (next < count) {
      const index = next;
      next += 1;
      try {
        await send(index);
      } catch {
        failed += 1;
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(inFlight, count) }, lane));
  return failed;
}

/** Resolves in the event loop's next check phase, once for all who ask until then (as ApiGatewayMessenger does). */
let turn: Promise<void> | undefined;
const nextTurn = (): Promise<void> =>
  (turn ??= new Promise((resolve) =>
    setImmediate(() => {
      turn = undefined;
      resolve();
    }),
  ));

/**
 * A plain keep-alive POST to the stub, optionally signed with SigV4 as the SDK would sign it, and optionally started
 * with the other posts asked for in the same turn of the event loop, as ApiGatewayMessenger starts its sends.
 */
function floor(endpoint: URL, inFlight: number, signed: boolean, batched = false): (count: number) => Promise<number> {
  const agent = new Agent({ keepAlive: true, maxSockets: inFlight });
  const signer = new SignatureV4({
    service: 'execute-api',
    region: LAMBDA_ENV.AWS_REGION,
    sha256: Sha256,
    credentials: {
      accessKeyId: LAMBDA_ENV.AWS_ACCESS_KEY_ID,
      secretAccessKey: LAMBDA_ENV.AWS_SECRET_ACCESS_KEY,
      sessionToken: LAMBDA_ENV.AWS_SESSION_TOKEN,
    },
  });
  const post = async (index: number): Promise<void> => {
    if (batched) await nextTurn();
    const path = `/@connections/${encodeURIComponent(idOf(index))}`;
    let headers: Record<string, string> = {
      host: endpoint.host,
      'content-type': 'application/json',
      'content-length': String(body.length),
    };
    if (signed) {
      const signedRequest = await signer.sign({
        method: 'POST',
        protocol: endpoint.protocol,
        hostname: endpoint.hostname,
        port: Number(endpoint.port),
        path,
        headers,
        body,
      });
      headers = signedRequest.headers;
    }
    await new Promise<void>((resolve, reject) => {
      const req = request(
        { agent, host: endpoint.hostname, port: endpoint.port, method: 'POST', path, headers },
        (res) => {
          res.resume();
          res.once('end', () => (res.statusCode === 200 ? resolve() : reject(new Error(`status ${res.statusCode}`))));
        },
      );
      req.once('error', reject);
      req.end(body);
    });
  };
  return (count) => bounded(count, inFlight, post);
}

/** The pattern of AWS's samples: a new client per invocation, every send of the invocation started at once. */
function naive(endpoint: string, inFlight: number): (count: number) => Promise<number> {
  const data = JSON.stringify(frame);
  return async (count) => {
    let failed = 0;
    for (let start = 0; start < count; start += inFlight) {
      const client = new ApiGatewayManagementApiClient({ endpoint });
      const batch = Array.from({ length: Math.min(inFlight, count - start) }, (_, i) =>
        client.send(new PostToConnectionCommand({ ConnectionId: idOf(start + i), Data: data })),
      );
      failed += (await Promise.allSettled(batch)).filter((r) => r.status === 'rejected').length;
    }
    return failed;
  };
}

/** ApiGatewayMessenger exactly as the composition root builds it. */
function benchMessenger(endpoint: string, inFlight: number): ReturnType<typeof buildMessenger> {
  return buildMessenger(
    loadConfig({
      ...process.env,
      CHAT_TABLE: 'chat-bench',
      WEBSOCKET_MANAGEMENT_ENDPOINT: endpoint,
      FANOUT_QUEUE_URL: 'http://127.0.0.1:1/000000000000/fanout',
      PRESENCE_QUEUE_URL: 'http://127.0.0.1:1/000000000000/presence',
      BROADCAST_CONCURRENCY: String(inFlight),
    }),
  );
}

/** Ours as the fan-out runs it: `inFlight` lanes, each asking for its next send as soon as one settles. */
function ours(endpoint: string, inFlight: number): (count: number) => Promise<number> {
  const messenger = benchMessenger(endpoint, inFlight);
  return (count) => bounded(count, inFlight, (index) => messenger.send(idOf(index), frame));
}

async function measure(params: MessengerParams): Promise<MessengerResult> {
  Object.assign(process.env, LAMBDA_ENV);
  const run =
    params.variant === 'ours'
      ? ours(params.endpoint, params.inFlight)
      : params.variant === 'naive'
        ? naive(params.endpoint, params.inFlight)
        : floor(
            new URL(params.endpoint),
            params.inFlight,
            params.variant !== 'floor unsigned',
            params.variant === 'floor signed, batched',
          );
  // Warm-up: JIT, the credential chain, open sockets; then a clean heap.
  await run(params.warmup);
  const gc = (globalThis as { gc?: () => void }).gc;
  if (gc === undefined) throw new Error('run with --expose-gc');
  gc();
  gc();
  const profiler = new GCProfiler();
  const heapBefore = process.memoryUsage().heapUsed;
  profiler.start();
  const wallStart = performance.now();
  const cpuStart = process.cpuUsage();
  const failed = await run(params.sends);
  const cpu = process.cpuUsage(cpuStart);
  const wallMs = performance.now() - wallStart;
  const heapAfter = process.memoryUsage().heapUsed;
  const statistics = profiler.stop()?.statistics ?? [];
  const freed = statistics.reduce(
    (sum, s) => sum + s.beforeGC.heapStatistics.usedHeapSize - s.afterGC.heapStatistics.usedHeapSize,
    0,
  );
  return {
    variant: params.variant,
    sends: params.sends,
    failed,
    cpuUs: cpu.user + cpu.system,
    wallMs,
    allocatedBytes: heapAfter - heapBefore + freed,
    gcCount: statistics.length,
  };
}

const raw = process.argv[2];
if (process.argv[1] === fileURLToPath(import.meta.url) && raw !== undefined) {
  const result = await measure(JSON.parse(raw) as MessengerParams);
  process.stdout.write(`${JSON.stringify(result)}\n`);
  process.exit(0);
}
