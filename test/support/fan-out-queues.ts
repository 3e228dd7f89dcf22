import {
  GetQueueAttributesCommand,
  GetQueueUrlCommand,
  type Message,
  ReceiveMessageCommand,
  type SQSClient,
} from '@aws-sdk/client-sqs';
import { localSqsClient } from '../../scripts/local-sqs.ts';
import { LOCAL_STAGE, type LocalStack } from '../../scripts/local-stack.ts';

/** The local stack's fan-out queue (shard jobs), its presence queue, and their dead-letter queues, read past the functions. */
export class FanOutQueues {
  readonly client: SQSClient;
  readonly jobsUrl: string;
  readonly deadUrl: string;
  readonly presenceUrl: string;
  readonly presenceDeadUrl: string;

  private constructor(
    client: SQSClient,
    urls: Pick<FanOutQueues, 'jobsUrl' | 'deadUrl' | 'presenceUrl' | 'presenceDeadUrl'>,
  ) {
    this.client = client;
    this.jobsUrl = urls.jobsUrl;
    this.deadUrl = urls.deadUrl;
    this.presenceUrl = urls.presenceUrl;
    this.presenceDeadUrl = urls.presenceDeadUrl;
  }

  static async of(stack: Pick<LocalStack, 'sqsEndpoint'>): Promise<FanOutQueues> {
    const client = localSqsClient(stack.sqsEndpoint);
    const urlOf = async (name: string): Promise<string> =>
      (await client.send(new GetQueueUrlCommand({ QueueName: name }))).QueueUrl ?? '';
    return new FanOutQueues(client, {
      jobsUrl: await urlOf(`ws-chat-${LOCAL_STAGE}-fanout`),
      deadUrl: await urlOf(`ws-chat-${LOCAL_STAGE}-fanout-dlq`),
      presenceUrl: await urlOf(`ws-chat-${LOCAL_STAGE}-presence`),
      presenceDeadUrl: await urlOf(`ws-chat-${LOCAL_STAGE}-presence-dlq`),
    });
  }

  /** Messages a queue holds: visible, in flight, and, with `delayed`, not visible yet. */
  async held(url: string, delayed = false): Promise<number> {
    const { Attributes = {} } = await this.client.send(
      new GetQueueAttributesCommand({
        QueueUrl: url,
        AttributeNames: [
          'ApproximateNumberOfMessages',
          'ApproximateNumberOfMessagesNotVisible',
          'ApproximateNumberOfMessagesDelayed',
        ],
      }),
    );
    const count = (name: keyof typeof Attributes): number => Number(Attributes[name] ?? 0);
    return (
      count('ApproximateNumberOfMessages') +
      count('ApproximateNumberOfMessagesNotVisible') +
      (delayed ? count('ApproximateNumberOfMessagesDelayed') : 0)
    );
  }

  /** Receives what the dead-letter queue holds (up to 10), with their receive counts. */
  async dead(): Promise<Message[]> {
    const { Messages = [] } = await this.client.send(
      new ReceiveMessageCommand({
        QueueUrl: this.deadUrl,
        MaxNumberOfMessages: 10,
        MessageSystemAttributeNames: ['ApproximateReceiveCount'],
      }),
    );
    return Messages;
  }

  close(): void {
    this.client.destroy();
  }
}
