import type { MiddlewareObj } from '@middy/core';
import type { Context } from 'aws-lambda';
import type { DependencyProvider } from '../wiring/dependencies.ts';
import { type ChatRequest, parseInboundFrame } from '../frames/inbound-frame.ts';
import type { WebSocketEvent, WebSocketResult } from '../frames/websocket-event.ts';

/** The frame as {@link parseFrame} read it: the request, or why it was refused. */
export type ParsedFrame = { readonly request: ChatRequest } | { readonly error: unknown };

/** The Lambda context of the message routes, with the parsed frame on it. */
export interface FrameContext extends Context {
  frame?: ParsedFrame;
}

/**
 * Parses the frame once, before the rate limit weighs it, and keeps the outcome on the context: a frame
 * that does not parse is still counted, and its refusal is raised by the handler, after the count.
 */
export function parseFrame(
  dependencies: DependencyProvider,
): MiddlewareObj<WebSocketEvent, WebSocketResult, Error, FrameContext> {
  return {
    before: (request) => {
      const { event, context } = request;
      try {
        context.frame = { request: parseInboundFrame(event.body, event.isBase64Encoded, dependencies().limits) };
      } catch (error) {
        context.frame = { error };
      }
    },
  };
}

/** The parsed request; throws the refusal of a frame that did not parse. */
export function requestOf(context: FrameContext): ChatRequest {
  const parsed = context.frame;
  if (parsed === undefined) throw new Error('parseFrame must run before the handler');
  if ('error' in parsed) throw parsed.error;
  return parsed.request;
}
