import { CONNECTION_PREFIX } from '../../src/adapters/dynamodb-keys.ts';
import { readdirSync, readFileSync } from 'node:fs';
import { DynamoDBDocumentClient, ScanCommand } from '@aws-sdk/lib-dynamodb';
import { DynamoDbConnectionRepository } from '../../src/adapters/dynamodb-connection-repository.ts';
import { DEFAULT_CONFIG } from './in-memory-chat.ts';
import { type LocalStack, localDynamoDbClient } from '../../scripts/local-stack.ts';

/** A connection item as the table holds it. */
export interface ConnectionItem {
  readonly id: string;
  readonly room: string;
  /** Taken out of its room by a fan-out that found it gone, kept until its $disconnect. */
  readonly retired: boolean;
  readonly expiresAt: number;
  /** The frame weight the rate limiter has counted in the connection's current window. */
  readonly framesCounted: number;
}

/** A direct view of a local stack's table, past the handlers, for tests to count and plant rows. */
export class StackTable {
  readonly #documents: DynamoDBDocumentClient;
  readonly #tableName: string;
  readonly repository: DynamoDbConnectionRepository;

  constructor(stack: Pick<LocalStack, 'dynamoDbEndpoint' | 'tableName'>) {
    this.#documents = DynamoDBDocumentClient.from(localDynamoDbClient(stack.dynamoDbEndpoint));
    this.#tableName = stack.tableName;
    // Sharded as the stack's handlers shard the room index: ROOM_SHARDS as the configuration defaults it.
    this.repository = new DynamoDbConnectionRepository(this.#documents, {
      tableName: stack.tableName,
      shards: DEFAULT_CONFIG.roomShards,
    });
  }

  /** Every connection item, retired or expired or not, sorted by id. A test may Scan; the product never does. */
  async connections(): Promise<ConnectionItem[]> {
    const items: ConnectionItem[] = [];
    let start: Record<string, unknown> | undefined;
    do {
      const page = await this.#documents.send(
        new ScanCommand({
          TableName: this.#tableName,
          FilterExpression: 'begins_with(pk, :prefix)',
          ExpressionAttributeValues: { ':prefix': CONNECTION_PREFIX },
          ExclusiveStartKey: start,
        }),
      );
      for (const item of page.Items ?? []) {
        items.push({
          id: String(item['pk']).slice(CONNECTION_PREFIX.length),
          room: String(item['room']),
          retired: item['retired'] === true,
          expiresAt: Number(item['expiresAt']),
          framesCounted: Number(item['rlCount'] ?? 0),
        });
      }
      start = page.LastEvaluatedKey;
    } while (start !== undefined);
    return items.sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  }

  async connectionIds(): Promise<string[]> {
    return (await this.connections()).map((item) => item.id);
  }

  /** The ids of the connections still open as far as the table knows: stored and not retired, sorted. */
  async openConnectionIds(): Promise<string[]> {
    return (await this.connections()).filter((item) => !item.retired).map((item) => item.id);
  }

  /** The ids a fan-out to the room reaches, read by the real adapter, sorted. */
  async roomMembers(room: string): Promise<string[]> {
    const ids: string[] = [];
    for await (const page of this.repository.list(room)) ids.push(...page);
    return ids.sort();
  }

  /** Writes a connection row as the $connect handler would, for a client that does not exist (as if its $disconnect was lost). */
  async plant(
    connectionId: string,
    room = 'lobby',
    expiresAtSeconds = Math.floor(Date.now() / 1000) + 3600,
  ): Promise<void> {
    await this.repository.save({
      id: connectionId,
      room,
      name: 'Ghost',
      // An hour ago: a client that does not exist is long past any handshake.
      connectedAt: new Date(Date.now() - 3_600_000),
      expiresAt: new Date(expiresAtSeconds * 1000),
      revision: 0,
      announced: false,
    });
  }

  close(): void {
    this.#documents.destroy();
  }
}

/** The pid of the serverless-offline process serving this WebSocket URL, found through /proc. */
export function emulatorPid(websocketUrl: string): number | undefined {
  const port = new URL(websocketUrl).port;
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const args = readFileSync(`/proc/${entry}/cmdline`, 'utf8').split('\0');
      const at = args.indexOf('--websocketPort');
      if (args.includes('offline') && at >= 0 && args[at + 1] === port) return Number(entry);
    } catch {
      // The process ended while /proc was read.
    }
  }
  return undefined;
}

/** A process's peak resident memory so far (VmHWM), in MB, or `undefined` when /proc cannot tell. */
export function peakRssMb(pid: number | undefined): number | undefined {
  if (pid === undefined) return undefined;
  try {
    const match = /^VmHWM:\s+(\d+) kB$/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return match?.[1] === undefined ? undefined : Math.round(Number(match[1]) / 1024);
  } catch {
    return undefined;
  }
}
