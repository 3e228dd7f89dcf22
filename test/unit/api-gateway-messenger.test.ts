import { afterAll, beforeEach, describe, expect, it, jest } from '@jest/globals';
import {
  ApiGatewayManagementApiClient,
  ApiGatewayManagementApiServiceException,
  ForbiddenException,
  GoneException,
  LimitExceededException,
  PostToConnectionCommand,
} from '@aws-sdk/client-apigatewaymanagementapi';
import { mockClient } from 'aws-sdk-client-mock';
import { ApiGatewayMessenger } from '../../src/adapters/api-gateway-messenger.ts';
import type { ServerFrame } from '../../src/domain/frames.ts';
import { deliveryErrorOf } from '../support/delivery-errors.ts';

const management = mockClient(ApiGatewayManagementApiClient);
const client = new ApiGatewayManagementApiClient({
  region: 'eu-west-1',
  endpoint: 'https://abc123.execute-api.eu-west-1.amazonaws.com/dev',
});

const frame: ServerFrame = {
  type: 'message',
  id: 'msg-1',
  seq: 7,
  room: 'lobby',
  from: 'B',
  name: 'Bärbel',
  text: 'grüß dich 😀',
  sentAt: '2030-01-01T00:00:00.000Z',
};

function messenger(timeoutMs = 1000): ApiGatewayMessenger {
  return new ApiGatewayMessenger(client, { timeoutMs });
}

function serviceError(name: string, httpStatusCode: number): ApiGatewayManagementApiServiceException {
  return new ApiGatewayManagementApiServiceException({
    name,
    $fault: httpStatusCode >= 500 ? 'server' : 'client',
    $metadata: { httpStatusCode },
    message: name,
  });
}

beforeEach(() => {
  management.reset();
});

afterAll(() => {
  management.restore();
});

// Delivery, gone, each failure and unicode through real HTTP are in test/contract/messenger.contract.ts; these
// pin how each kind of SDK error is classified.
describe('ApiGatewayMessenger', () => {
  it('reports a connection answered with GoneException as gone', async () => {
    management
      .on(PostToConnectionCommand)
      .rejects(new GoneException({ message: 'gone', $metadata: { httpStatusCode: 410 } }));

    await expect(messenger().send('A', frame)).resolves.toBe('gone');
  });

  it('reports a bare 410 that the SDK could not name as gone', async () => {
    management.on(PostToConnectionCommand).rejects(serviceError('Unknown', 410));

    await expect(messenger().send('A', frame)).resolves.toBe('gone');
  });

  it('throws a throttled DeliveryError when throttling outlives the retries', async () => {
    management
      .on(PostToConnectionCommand)
      .rejects(new LimitExceededException({ message: 'slow down', $metadata: { httpStatusCode: 429 } }));

    const error = await deliveryErrorOf(messenger().send('A', frame));

    expect({ connectionId: error.connectionId, reason: error.reason }).toEqual({
      connectionId: 'A',
      reason: 'throttled',
    });
  });

  it('throws a rejected DeliveryError when API Gateway forbids the call', async () => {
    management
      .on(PostToConnectionCommand)
      .rejects(new ForbiddenException({ message: 'forbidden', $metadata: { httpStatusCode: 403 } }));

    expect((await deliveryErrorOf(messenger().send('A', frame))).reason).toBe('rejected');
  });

  it('throws an unavailable DeliveryError on a server error', async () => {
    management.on(PostToConnectionCommand).rejects(serviceError('InternalServerErrorException', 500));

    expect((await deliveryErrorOf(messenger().send('A', frame))).reason).toBe('unavailable');
  });

  it('throws an unavailable DeliveryError when the request never got an answer', async () => {
    management.on(PostToConnectionCommand).rejects(Object.assign(new Error('socket hang up'), { code: 'ECONNRESET' }));

    expect((await deliveryErrorOf(messenger().send('A', frame))).reason).toBe('unavailable');
  });

  it('keeps the SDK error as the cause of the DeliveryError', async () => {
    const original = new LimitExceededException({ message: 'slow down', $metadata: { httpStatusCode: 429 } });
    management.on(PostToConnectionCommand).rejects(original);

    expect((await deliveryErrorOf(messenger().send('A', frame))).cause).toBe(original);
  });

  it('aborts a send that outlives the timeout and throws a timeout DeliveryError', async () => {
    // aws-sdk-client-mock's callsFake() hands the fake only the command input, not send()'s options, so the
    // underlying sinon stub is faked directly to receive the abortSignal and reject the way the SDK does.
    management.send.callsFake(
      (_command: unknown, options?: { abortSignal?: AbortSignal }) =>
        new Promise<never>((_resolve, reject) => {
          const giveUp = setTimeout(() => reject(new Error('the abort signal never fired')), 1000);
          options?.abortSignal?.addEventListener('abort', () => {
            clearTimeout(giveUp);
            reject(Object.assign(new Error('Request aborted'), { name: 'AbortError' }));
          });
        }),
    );

    const error = await deliveryErrorOf(messenger(50).send('A', frame));

    expect({ reason: error.reason, cause: error.cause }).toEqual({
      reason: 'timeout',
      cause: expect.objectContaining({ name: 'AbortError' }),
    });
  });

  it('gives sends started together one deadline instead of a timer each', async () => {
    const signals: Array<AbortSignal | undefined> = [];
    management.send.callsFake((_command: unknown, options?: { abortSignal?: AbortSignal }) => {
      signals.push(options?.abortSignal);
      return Promise.resolve({ $metadata: {} });
    });

    const shared = messenger();

    await Promise.all([shared.send('A', frame), shared.send('B', frame), shared.send('C', frame)]);

    expect({ sends: signals.length, deadlines: new Set(signals).size }).toEqual({ sends: 3, deadlines: 1 });
  });

  it('starts the sends asked for within one turn of the event loop together, once that turn is over', async () => {
    const started: string[] = [];
    management.on(PostToConnectionCommand).callsFake((input: { ConnectionId?: string }) => {
      started.push(input.ConnectionId ?? '');
      return {};
    });
    const shared = messenger();

    const sends = ['A', 'B', 'C'].map((id) => shared.send(id, frame));
    const startedWhileAsked = started.length;
    await new Promise(setImmediate);
    const startedAfterTheTurn = [...started];
    await Promise.all(sends);

    expect({ startedWhileAsked, startedAfterTheTurn }).toEqual({
      startedWhileAsked: 0,
      startedAfterTheTurn: ['A', 'B', 'C'],
    });
  });

  it('serialises a frame once however many recipients it is sent to', async () => {
    management.on(PostToConnectionCommand).resolves({});
    const stringify = jest.spyOn(JSON, 'stringify');
    const shared = messenger();

    await Promise.all(['A', 'B', 'C'].map((id) => shared.send(id, frame)));
    const framesSerialised = stringify.mock.calls.filter(([value]) => value === frame).length;
    stringify.mockRestore();

    expect({
      framesSerialised,
      bodies: management.commandCalls(PostToConnectionCommand).map((call) => call.args[0].input.Data),
    }).toEqual({ framesSerialised: 1, bodies: Array(3).fill(new TextEncoder().encode(JSON.stringify(frame))) });
  });

  it('names a server error that arrives after the deadline by its status, not as a timeout', async () => {
    management.send.callsFake(
      (_command: unknown, options?: { abortSignal?: AbortSignal }) =>
        new Promise<never>((_resolve, reject) => {
          options?.abortSignal?.addEventListener('abort', () =>
            reject(serviceError('InternalServerErrorException', 500)),
          );
        }),
    );

    expect((await deliveryErrorOf(messenger(20).send('A', frame))).reason).toBe('unavailable');
  });
});
