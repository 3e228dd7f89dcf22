import { Logger as Powertools } from '@aws-lambda-powertools/logger';
import type { Logger } from '../domain/observability.ts';

/** The service's JSON logger: AWS Lambda Powertools, one JSON object per line, which CloudWatch Logs keeps as is. */
export class PowertoolsLogger implements Logger {
  readonly #logger = new Powertools({ serviceName: 'ws-chat' });

  info(message: string, fields?: Record<string, unknown>): void {
    if (fields === undefined) this.#logger.info(message);
    else this.#logger.info(message, fields);
  }

  error(message: string, fields?: Record<string, unknown>): void {
    if (fields === undefined) this.#logger.error(message);
    else this.#logger.error(message, fields);
  }

  appendKeys(keys: Record<string, unknown>): void {
    this.#logger.appendKeys(keys);
  }

  resetKeys(): void {
    this.#logger.resetKeys();
  }
}
