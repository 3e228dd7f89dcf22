import { afterEach, describe, expect, it, jest } from '@jest/globals';
import { PowertoolsChatMetrics } from '../../src/adapters/powertools-metrics.ts';

/** What Powertools writes through its Console over the process's streams, line by line. */
function captureOutput(): string[] {
  const lines: string[] = [];
  for (const stream of [process.stdout, process.stderr]) {
    jest.spyOn(stream, 'write').mockImplementation((chunk: string | Uint8Array) => {
      lines.push(
        ...String(chunk)
          .split('\n')
          .filter((line) => line !== ''),
      );
      return true;
    });
  }
  return lines;
}

describe('the Powertools metrics', () => {
  afterEach(() => {
    jest.restoreAllMocks();
  });

  it('writes nothing for an invocation that counted nothing (Powertools would log a warning)', () => {
    const metrics = new PowertoolsChatMetrics();
    const lines = captureOutput();

    metrics.publish();

    expect(lines).toEqual([]);
  });

  it("publishes an invocation's counts once, as one embedded-metric document", () => {
    const metrics = new PowertoolsChatMetrics();
    const lines = captureOutput();

    metrics.count('Connections');
    metrics.publish();
    metrics.publish();

    expect(lines).toHaveLength(1);
    expect(JSON.parse(lines[0] ?? '{}')).toMatchObject({ Connections: 1, service: 'ws-chat' });
  });
});

describe('the Powertools metrics with dimensions', () => {
  afterEach(() => {
    jest.restoreAllMocks();
  });

  it('writes a count with dimensions as a document of its own, keeping them off the other counts of the invocation', () => {
    const metrics = new PowertoolsChatMetrics();
    const lines = captureOutput();

    metrics.count('HandshakesRefused', 1, { Reason: 'invalid_token' });
    metrics.count('Connections');
    metrics.publish();

    const documents = lines.map((line) => JSON.parse(line) as Record<string, unknown>);
    expect(documents).toEqual([
      expect.objectContaining({ HandshakesRefused: 1, Reason: 'invalid_token', service: 'ws-chat' }),
      expect.objectContaining({ Connections: 1, service: 'ws-chat' }),
    ]);
    expect(documents[1]).not.toHaveProperty('Reason');
  });
});
