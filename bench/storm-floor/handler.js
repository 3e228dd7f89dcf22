// The floor's handlers (see serverless.yml): the AWS sample's per-client and per-message work, with the SDK's defaults.
import { randomUUID } from 'node:crypto';
import { ApiGatewayManagementApiClient, PostToConnectionCommand } from '@aws-sdk/client-apigatewaymanagementapi';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DeleteCommand, DynamoDBDocumentClient, PutCommand, ScanCommand } from '@aws-sdk/lib-dynamodb';

const table = process.env.FLOOR_TABLE;
const documents = DynamoDBDocumentClient.from(new DynamoDBClient({}));
const management = new ApiGatewayManagementApiClient({ endpoint: process.env.WEBSOCKET_MANAGEMENT_ENDPOINT });
const PREFIX = 'floor#';
const key = (connectionId) => ({ pk: `${PREFIX}${connectionId}`, sk: 'connection' });

export async function connect(event) {
  await documents.send(new PutCommand({ TableName: table, Item: { ...key(event.requestContext.connectionId) } }));
  return { statusCode: 200 };
}

export async function frame(event) {
  const { connectionId } = event.requestContext;
  const data = JSON.stringify({ type: 'welcome', connectionId, room: 'storm', replay: 0 });
  await management.send(new PostToConnectionCommand({ ConnectionId: connectionId, Data: data }));
  return { statusCode: 200 };
}

// The sample's sendmessage: one Scan of every connection, then a PostToConnection to each, all started together;
// a connection found gone (410) is deleted. The frame has the chat's shape, so that one client reads both.
export async function sendmessage(event) {
  const { connectionId } = event.requestContext;
  const body = JSON.parse(event.body);
  const { Items = [] } = await documents.send(new ScanCommand({ TableName: table, ProjectionExpression: 'pk' }));
  const data = JSON.stringify({
    type: 'message',
    id: randomUUID(),
    from: connectionId,
    text: body.text ?? body.data,
    sentAt: new Date().toISOString(),
  });
  await Promise.all(
    Items.map(async ({ pk }) => {
      const to = pk.slice(PREFIX.length);
      try {
        await management.send(new PostToConnectionCommand({ ConnectionId: to, Data: data }));
      } catch (error) {
        if (error?.$metadata?.httpStatusCode !== 410) throw error;
        await documents.send(new DeleteCommand({ TableName: table, Key: key(to) }));
      }
    }),
  );
  return { statusCode: 200 };
}

export async function disconnect(event) {
  await documents.send(new DeleteCommand({ TableName: table, Key: key(event.requestContext.connectionId) }));
  return { statusCode: 200 };
}
