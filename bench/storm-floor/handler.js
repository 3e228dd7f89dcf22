// The storm floor's handlers (see serverless.yml): the AWS sample's per-client work, with the SDK's defaults.
import { ApiGatewayManagementApiClient, PostToConnectionCommand } from '@aws-sdk/client-apigatewaymanagementapi';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DeleteCommand, DynamoDBDocumentClient, PutCommand } from '@aws-sdk/lib-dynamodb';

const table = process.env.FLOOR_TABLE;
const documents = DynamoDBDocumentClient.from(new DynamoDBClient({}));
const management = new ApiGatewayManagementApiClient({ endpoint: process.env.WEBSOCKET_MANAGEMENT_ENDPOINT });
const key = (connectionId) => ({ pk: `floor#${connectionId}`, sk: 'connection' });

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

export async function disconnect(event) {
  await documents.send(new DeleteCommand({ TableName: table, Key: key(event.requestContext.connectionId) }));
  return { statusCode: 200 };
}
