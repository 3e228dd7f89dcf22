import { Logger as PowertoolsLogger } from '@aws-lambda-powertools/logger';

/** Structured log lines; the composition root decides where they go (Powertools in Lambda, a recorder in tests). */
export interface Logger {
  info(message: string, fields?: Record<string, unknown>): void;
  error(message: string, fields?: Record<string, unknown>): void;
  /** Keys added to every line until {@link resetKeys}: the connection, route and request of an invocation. */
  appendKeys(keys: Record<string, unknown>): void;
  resetKeys(): void;
}

/** Describes an error for a log line without dumping request payloads or credentials. */
export function describeError(error: unknown): Record<string, unknown> {
  if (!(error instanceof Error)) return { error: String(error) };
  return { error: { name: error.name, message: error.message, stack: error.stack } };
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
