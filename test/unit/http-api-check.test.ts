import { describe, expect, it } from '@jest/globals';
import { SignatureV4 } from '@smithy/signature-v4';
import {
  checkSignedRequest,
  LOCAL_SECRET,
  localCallers,
  PUBLISHER_ACCESS_KEY,
  type SignedRequest,
} from '../../scripts/local-iam/http-api-check.ts';
import { FRAMEWORK_RESOURCES, type Resources } from '../../scripts/local-iam/policy.ts';
import { KeyedSha256 } from '../../src/handlers/wiring/keyed-sha256.ts';

const API = 'arn:${AWS::Partition}:execute-api:${AWS::Region}:${AWS::AccountId}:${HttpApi}';
const POST_ROUTE = `${API}/$default/POST/rooms/kitchen/messages`;

const RESOURCES: Resources = {
  ...FRAMEWORK_RESOURCES,
  PublisherPolicy: {
    Type: 'AWS::IAM::ManagedPolicy',
    Properties: {
      PolicyDocument: {
        Version: '2012-10-17',
        Statement: [
          { Effect: 'Allow', Action: 'execute-api:Invoke', Resource: { 'Fn::Sub': `${API}/*/POST/rooms/*/messages` } },
        ],
      },
    },
  },
  MessageRole: {
    Type: 'AWS::IAM::Role',
    Properties: {
      Policies: [
        {
          PolicyName: 'p',
          PolicyDocument: { Statement: [{ Effect: 'Allow', Action: 'logs:PutLogEvents', Resource: '*' }] },
        },
      ],
    },
  },
};
const CALLERS = localCallers(RESOURCES, { message: { key: 'LOCALMESSAGE', role: 'MessageRole' } });

/** A request as an AWS SDK client signs it for execute-api, as the check receives it. */
async function signed(
  options: { key?: string; secret?: string; method?: string; path?: string; body?: string } = {},
): Promise<SignedRequest> {
  const signer = new SignatureV4({
    service: 'execute-api',
    region: 'us-east-1',
    credentials: { accessKeyId: options.key ?? PUBLISHER_ACCESS_KEY, secretAccessKey: options.secret ?? LOCAL_SECRET },
    sha256: KeyedSha256,
  });
  const body = options.body ?? '{"text":"hi"}';
  const request = await signer.sign({
    method: options.method ?? 'POST',
    protocol: 'http:',
    hostname: '127.0.0.1',
    port: 3000,
    path: options.path ?? '/rooms/kitchen/messages',
    query: {},
    headers: { host: '127.0.0.1:3000', 'content-type': 'application/json' },
    body,
  });
  return {
    method: request.method,
    path: request.path,
    query: {},
    headers: Object.fromEntries(Object.entries(request.headers).map(([name, value]) => [name.toLowerCase(), value])),
    body: Buffer.from(body),
  };
}

describe("the local stand-in for API Gateway's IAM authorizer", () => {
  it("passes a request signed by the publisher, whose policy allows the route, with the caller's identity", async () => {
    const verdict = await checkSignedRequest(await signed(), POST_ROUTE, CALLERS, RESOURCES);

    expect(verdict).toEqual({
      identity: expect.objectContaining({
        accessKey: PUBLISHER_ACCESS_KEY,
        userArn: 'arn:aws:sts::123456789012:assumed-role/local-publisher/npm-run-publish',
      }),
    });
  });

  it('refuses a body changed after signing: the signature no longer matches', async () => {
    const request = { ...(await signed()), body: Buffer.from('{"text":"changed"}') };

    const verdict = await checkSignedRequest(request, POST_ROUTE, CALLERS, RESOURCES);

    expect(verdict).toEqual({
      status: 403,
      message: expect.stringContaining('signature we calculated does not match'),
    });
  });

  it('refuses a request signed with another secret than the key’s', async () => {
    const verdict = await checkSignedRequest(await signed({ secret: 'guessed' }), POST_ROUTE, CALLERS, RESOURCES);

    expect(verdict).toEqual({
      status: 403,
      message: expect.stringContaining('signature we calculated does not match'),
    });
  });

  it('refuses a key it does not know, and a request without a signature', async () => {
    const unknown = await checkSignedRequest(await signed({ key: 'AKIAUNKNOWN' }), POST_ROUTE, CALLERS, RESOURCES);
    const unsigned = await checkSignedRequest({ ...(await signed()), headers: {} }, POST_ROUTE, CALLERS, RESOURCES);

    expect([unknown, unsigned]).toEqual([
      { status: 403, message: 'The security token included in the request is invalid.' },
      { status: 403, message: 'Forbidden' },
    ]);
  });

  it('refuses a caller whose policy does not allow execute-api:Invoke on the route, naming both', async () => {
    const verdict = await checkSignedRequest(await signed({ key: 'LOCALMESSAGE' }), POST_ROUTE, CALLERS, RESOURCES);

    expect(verdict).toEqual({
      status: 403,
      message:
        'User: arn:aws:sts::123456789012:assumed-role/MessageRole/message is not authorized to perform: execute-api:Invoke on resource: arn:aws:execute-api:us-east-1:123456789012:HttpApi/$default/POST/rooms/kitchen/messages',
    });
  });

  it('refuses the publisher on a route its policy does not name', async () => {
    const request = await signed({ method: 'GET', path: '/rooms/kitchen', body: '' });

    const verdict = await checkSignedRequest(request, `${API}/$default/GET/rooms/kitchen`, CALLERS, RESOURCES);

    expect(verdict).toMatchObject({ status: 403 });
  });
});
