import { connect } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { startWebServer, type WebServer } from '../../scripts/web-server.ts';

const PORT_PLACEHOLDER = '{port}';

/** Sends one HTTP/1.0 request byte for byte (1.0: no chunked body, and Host is optional), so the test chooses the Host header, and returns the status and body. */
function rawGet(port: number, path: string, host: string | undefined): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1');
    let response = '';
    socket.setEncoding('utf8');
    socket.on('data', (chunk: string) => {
      response += chunk;
    });
    socket.on('error', reject);
    socket.on('end', () => {
      const [head = '', body = ''] = response.split('\r\n\r\n');
      resolve({ status: Number(head.split(' ')[1]), body });
    });
    const hostLine = host === undefined ? '' : `Host: ${host}\r\n`;
    socket.write(`GET ${path} HTTP/1.0\r\n${hostLine}\r\n`);
  });
}

describe('the page server', () => {
  const token = 'header.payload.signature';
  let web: WebServer;
  let port: number;

  beforeAll(async () => {
    web = await startWebServer({ port: 0, websocketUrl: 'ws://127.0.0.1:1/', mintToken: async () => token });
    port = Number(new URL(web.url).port);
  }, 60_000);

  afterAll(async () => {
    await web?.stop();
  });

  it.each(['127.0.0.1', 'localhost', '[::1]'])('hands a development token to a page it serves as %s', async (host) => {
    const response = await rawGet(port, '/config.json', `${host}:${port}`);

    expect(response.status).toBe(200);
    expect(JSON.parse(response.body)).toMatchObject({ token });
  });

  it.each([
    ['a rebound DNS name', 'evil.example'],
    ['a rebound DNS name with the right port', `evil.example:${PORT_PLACEHOLDER}`],
    ['a loopback name on another port', 'localhost:1'],
    ['a subdomain of localhost', `a.localhost:${PORT_PLACEHOLDER}`],
  ])('refuses a request addressed to %s, token and page alike', async (_, hostTemplate) => {
    const host = hostTemplate.replace(PORT_PLACEHOLDER, String(port));

    const [config, page] = await Promise.all([rawGet(port, '/config.json', host), rawGet(port, '/', host)]);

    expect([config.status, page.status]).toEqual([421, 421]);
    expect(config.body).not.toContain(token);
  });

  it('refuses a request without a Host header', async () => {
    const response = await rawGet(port, '/config.json', undefined);

    expect(response.status).toBeGreaterThanOrEqual(400);
    expect(response.body).not.toContain(token);
  });
});
