/**
 * IAM for serverless-offline's own @connections API, in place: its routes (`/@connections/{connectionId}`) are
 * served by the emulator's hapi server in this process, so instead of a proxy in front of them (a second HTTP
 * exchange for every send of every fan-out, about 40 % of the emulator's CPU in a broadcast to 1,000), each
 * route's handler is wrapped to judge the request first and answer AWS's refusal when its role does not allow it.
 */
import { createRequire } from 'node:module';
import { join } from 'node:path';
import type { WireRequest } from './aws-calls.ts';
import type { Refusal } from './iam-proxy.ts';

interface HapiRequest {
  readonly method: string;
  readonly path: string;
  readonly headers: WireRequest['headers'];
}
/** The little of hapi's response toolkit that the local checks answer with (http-api-check.ts too). */
export interface HapiResponse {
  code(status: number): HapiResponse;
  header(name: string, value: string): HapiResponse;
}
export interface HapiToolkit {
  response(body: string): HapiResponse;
}
interface RouteConfig {
  readonly path?: unknown;
  readonly handler?: unknown;
}
type Handler = (request: HapiRequest, h: HapiToolkit) => unknown;

const isConnectionsRoute = (config: RouteConfig): boolean =>
  typeof config.path === 'string' && config.path.startsWith('/@connections/') && typeof config.handler === 'function';

/** A route whose handler first asks `check`, and answers its refusal instead of serving the request. */
function checked(config: RouteConfig, check: (request: WireRequest) => Refusal | undefined): RouteConfig {
  const serve = config.handler as Handler;
  const handler: Handler = (request, h) => {
    const refusal = check({
      method: request.method.toUpperCase(),
      path: request.path,
      headers: request.headers,
      body: Buffer.alloc(0),
    });
    if (refusal === undefined) return serve(request, h);
    let response = h.response(refusal.body).code(refusal.status);
    for (const [name, value] of Object.entries(refusal.headers)) response = response.header(name, value);
    return response;
  };
  return { ...config, handler };
}

/** Wraps every @connections route the emulator's hapi servers (of `offlineRoot`'s copy of hapi) add from now on. */
export function checkConnectionsRoutes(
  offlineRoot: string,
  check: (request: WireRequest) => Refusal | undefined,
): void {
  const hapi = createRequire(join(offlineRoot, 'package.json'))('@hapi/hapi') as {
    server(options: object): object;
  };
  // hapi exports a factory; its servers' class, whose route() the emulator calls, is the prototype of one.
  const prototype = Object.getPrototypeOf(hapi.server({ autoListen: false })) as {
    route(this: unknown, options: RouteConfig | RouteConfig[]): unknown;
  };
  const route = prototype.route;
  prototype.route = function (this: unknown, options: RouteConfig | RouteConfig[]) {
    const configs = [options].flat().map((config) => (isConnectionsRoute(config) ? checked(config, check) : config));
    return route.call(this, configs);
  };
}
