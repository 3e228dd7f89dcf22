import { expect, jest } from '@jest/globals';

/** A line the process wrote: the JSON object of a structured log line, or the raw text of any other. */
export type OutputLine = Readonly<Record<string, unknown>>;

function lineOf(text: string): OutputLine {
  try {
    const parsed: unknown = JSON.parse(text);
    if (typeof parsed === 'object' && parsed !== null && !Array.isArray(parsed)) return parsed as OutputLine;
  } catch {
    // Not JSON: kept as text below.
  }
  return { text };
}

/**
 * Runs `act` with everything the process writes to stdout and stderr captured instead of printed, and
 * returns its result with the lines written. Powertools' logger writes to the streams itself, past any
 * console spy; a test that provokes an error log asserts the line instead of printing it.
 */
export async function capturingOutput<T>(act: () => Promise<T>): Promise<{ result: T; lines: OutputLine[] }> {
  let text = '';
  const capture = (chunk: unknown): boolean => {
    text += typeof chunk === 'string' ? chunk : Buffer.from(chunk as Uint8Array).toString('utf8');
    return true;
  };
  const spies = [
    jest.spyOn(process.stdout, 'write').mockImplementation(capture),
    jest.spyOn(process.stderr, 'write').mockImplementation(capture),
  ];
  try {
    const result = await act();
    return {
      result,
      lines: text
        .split('\n')
        .filter((line) => line.trim() !== '')
        .map(lineOf),
    };
  } finally {
    for (const spy of spies) spy.mockRestore();
  }
}

/** Matches the JSON line Powertools' logger writes for an error logged with `message`, whose error is named `errorName`. */
export function errorLine(message: string, errorName: string): unknown {
  return expect.objectContaining({ level: 'ERROR', message, error: expect.objectContaining({ name: errorName }) });
}
