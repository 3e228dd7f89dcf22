import type { MiddlewareObj } from '@middy/core';
import { HttpProblemError, type HttpApiEvent, type HttpApiResult, problemType } from '../frames/http-request.ts';
import { loggerOf } from '../wiring/logger-of.ts';
import type { DependencyProvider } from '../wiring/dependencies.ts';

/** The media type of an RFC 9457 problem. */
export const PROBLEM_JSON = 'application/problem+json';

const INTERNAL_DETAIL = 'the server failed before it finished this request; a publish may have been made in part';

/** An RFC 9457 problem as the publish API answers it. */
export interface ProblemBody {
  readonly type: string;
  readonly title: string;
  readonly status: number;
  readonly detail: string;
}

const TITLES: Readonly<Record<number, string>> = {
  400: 'Bad Request',
  403: 'Forbidden',
  404: 'Not Found',
  413: 'Content Too Large',
  415: 'Unsupported Media Type',
  429: 'Too Many Requests',
  500: 'Internal Server Error',
};

function problemResponse(body: ProblemBody, headers: Record<string, string> = {}): HttpApiResult {
  return {
    statusCode: body.status,
    headers: { 'content-type': PROBLEM_JSON, ...headers },
    body: JSON.stringify(body),
  };
}

/**
 * Turns every failure of a publish API route into an `application/problem+json` answer: the caller's own mistakes
 * with their status and reason, anything else as a 500 whose detail says nothing of the cause (which is logged).
 * It must be the last middleware.
 */
export function problemDetails(dependencies: DependencyProvider): MiddlewareObj<HttpApiEvent, HttpApiResult> {
  return {
    onError: (request) => {
      const { error } = request;
      const logger = loggerOf(dependencies);
      if (error instanceof HttpProblemError) {
        logger.info('request refused', { code: error.code, status: error.status });
        request.response = problemResponse(
          {
            type: problemType(error.code),
            title: TITLES[error.status] ?? 'Error',
            status: error.status,
            detail: error.message,
          },
          error.retryAfter === undefined ? {} : { 'retry-after': String(error.retryAfter) },
        );
        return;
      }
      logger.error('publish API route failed', { error });
      request.response = problemResponse({
        type: problemType('internal_error'),
        title: TITLES[500] ?? 'Error',
        status: 500,
        detail: INTERNAL_DETAIL,
      });
    },
  };
}
