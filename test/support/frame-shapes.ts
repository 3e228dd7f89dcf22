import { ProtocolContract } from './protocol-contract.ts';

const contract = ProtocolContract.fromFile();

/** Text that only a server failure would put in a client's frame: stack frames, file positions, AWS names. */
const LEAKS = [
  /\n\s*at\s/g,
  /\bat \S+ \(/g,
  /node_modules/g,
  /\.(?:ts|js|mjs|cjs):\d+/g,
  /\b\w*(?:Error|Exception)\b/g,
  /arn:aws/g,
];

/**
 * What is wrong with a frame as a client received it (an empty list when nothing is): anything asyncapi.yaml
 * does not describe (an unknown type, a missing, extra or mistyped field, an undocumented error code), or
 * server detail in an error message that the client did not send.
 */
export function problemsWith(frame: unknown, input: string): string[] {
  const problems = contract.serverFrameProblems(JSON.stringify(frame));
  const { type, message } = typeof frame === 'object' && frame !== null ? (frame as Record<string, unknown>) : {};
  if (type === 'error' && typeof message === 'string') {
    for (const pattern of LEAKS) {
      for (const [leak] of message.matchAll(pattern))
        if (!input.includes(leak)) problems.push(`error message leaks ${JSON.stringify(leak)}`);
    }
  }
  return problems;
}
