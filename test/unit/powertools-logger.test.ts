import { afterEach, describe, expect, it, jest } from '@jest/globals';
import { DeliveryError } from '../../src/domain/errors.ts';
import { PowertoolsLogger } from '../../src/adapters/powertools-logger.ts';

describe('the Powertools logger', () => {
  afterEach(() => {
    jest.restoreAllMocks();
  });

  it("writes an error whole: its own fields, such as a delivery's connection and reason, and its cause", () => {
    const lines: string[] = [];
    // Powertools writes through a Console of its own over the process's streams; errors go to stderr.
    for (const stream of [process.stdout, process.stderr]) {
      jest.spyOn(stream, 'write').mockImplementation((chunk: string | Uint8Array) => {
        lines.push(String(chunk));
        return true;
      });
    }
    const logger = new PowertoolsLogger();

    logger.error('delivery failed', {
      error: new DeliveryError('A', 'throttled', { cause: new Error('429 Too Many Requests') }),
    });

    const entry = JSON.parse(lines.join('')) as { message: string; error: Record<string, unknown> };
    expect({ message: entry.message, error: entry.error }).toMatchObject({
      message: 'delivery failed',
      error: {
        name: 'DeliveryError',
        connectionId: 'A',
        reason: 'throttled',
        cause: { name: 'Error', message: '429 Too Many Requests' },
      },
    });
  });
});
