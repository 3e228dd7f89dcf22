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
