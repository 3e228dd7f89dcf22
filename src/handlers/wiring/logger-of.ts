import { PowertoolsLogger } from '../../adapters/powertools-logger.ts';
import type { Logger } from '../../domain/observability.ts';

let fallback: Logger | undefined;

/** The dependencies' logger, or a plain Powertools logger when the dependencies cannot be built. */
export function loggerOf(provider: () => { readonly logger: Logger }): Logger {
  try {
    return provider().logger;
  } catch {
    fallback ??= new PowertoolsLogger();
    return fallback;
  }
}
