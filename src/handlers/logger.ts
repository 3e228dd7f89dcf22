import { Logger as PowertoolsLogger } from '@aws-lambda-powertools/logger';

/**
 * Structured log lines; the composition root decides where they go (Powertools in Lambda, a recorder in
 * tests). An error goes in a field as the Error itself, so that the logger formats it whole: its cause,
 * and its own fields such as a DeliveryError's connection and reason.
 */
export interface Logger {
  info(message: string, fields?: Record<string, unknown>): void;
  error(message: string, fields?: Record<string, unknown>): void;
  /** Keys added to every line until {@link resetKeys}: the connection, route and request of an invocation. */
  appendKeys(keys: Record<string, unknown>): void;
  resetKeys(): void;
}

/** The service's JSON logger: AWS Lambda Powertools, one JSON object per line, which CloudWatch Logs keeps as is. */
export function createPowertoolsLogger(): Logger {
  const logger = new PowertoolsLogger({ serviceName: 'ws-chat' });
  return {
    info: (message, fields) => (fields === undefined ? logger.info(message) : logger.info(message, fields)),
    error: (message, fields) => (fields === undefined ? logger.error(message) : logger.error(message, fields)),
    appendKeys: (keys) => logger.appendKeys(keys),
    resetKeys: () => logger.resetKeys(),
  };
}

let fallback: Logger | undefined;

/** The dependencies' logger, or a plain Powertools logger when the dependencies cannot be built. */
export function loggerOf(dependencies: () => { readonly logger: Logger }): Logger {
  try {
    return dependencies().logger;
  } catch {
    fallback ??= createPowertoolsLogger();
    return fallback;
  }
}
