import type { IncomingHttpHeaders } from 'node:http';
import { describe, expect, it } from '@jest/globals';
import { webPageRequest } from '../../scripts/refuse-web-pages.ts';

const PORT = 8000;
const request = (headers: IncomingHttpHeaders, method = 'POST') => ({ headers, method });

describe('what the local stack takes for a web page', () => {
  it.each(['127.0.0.1:8000', 'localhost:8000', 'LocalHost:8000', '[::1]:8000'])(
    'takes a request addressed to %s, with no Origin, for a program',
    (host) => {
      expect(webPageRequest(request({ host }), PORT)).toBeUndefined();
    },
  );

  it.each([
    ['a rebound DNS name', { host: 'evil.example:8000' }],
    ['a subdomain of localhost', { host: 'a.localhost:8000' }],
    ['a loopback name on another port', { host: 'localhost:8001' }],
    ['a loopback name without its port', { host: 'localhost' }],
    ['no Host at all', {}],
    ['an opaque Origin', { host: 'localhost:8000', origin: 'null' }],
    ['an Origin on this very machine', { host: 'localhost:8000', origin: 'http://localhost:8080' }],
    ['a Sec-Fetch-Site without an Origin', { host: 'localhost:8000', 'sec-fetch-site': 'same-site' }],
  ])('takes a request with %s for a web page', (_, headers) => {
    expect(webPageRequest(request(headers), PORT)).toEqual(expect.any(String));
  });

  it('takes an OPTIONS request for a CORS preflight', () => {
    expect(webPageRequest(request({ host: 'localhost:8000' }, 'OPTIONS'), PORT)).toMatch(/preflight/);
  });

  it('takes the bare loopback names for a server on port 80', () => {
    expect(webPageRequest(request({ host: 'localhost' }), 80)).toBeUndefined();
  });
});
