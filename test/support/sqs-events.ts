import type { SQSEvent, SQSRecord } from 'aws-lambda';

/** The fan-out queue's ARN in the fixtures. */
export const FANOUT_QUEUE_ARN = 'arn:aws:sqs:us-east-1:123456789012:ws-chat-test-fanout';

/** A batch as Lambda's SQS event source delivers it: one record per body, ids m-1, m-2, ... */
export function sqsEvent(bodies: readonly string[], receiveCount = 1): SQSEvent {
  return {
    Records: bodies.map((body, index): SQSRecord => ({
      messageId: `m-${index + 1}`,
      receiptHandle: `receipt-${index + 1}`,
      body,
      attributes: {
        ApproximateReceiveCount: String(receiveCount),
        SentTimestamp: '1893456000000',
        SenderId: 'AROAEXAMPLE:connect',
        ApproximateFirstReceiveTimestamp: '1893456000010',
      },
      messageAttributes: {},
      md5OfBody: '',
      eventSource: 'aws:sqs',
      eventSourceARN: FANOUT_QUEUE_ARN,
      awsRegion: 'us-east-1',
    })),
  };
}
