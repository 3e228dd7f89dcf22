import { afterAll, afterEach } from '@jest/globals';
import { takeContractViolations } from './protocol-contract.ts';

/**
 * A tier's setup file: after each test (and after the file, for frames that arrive while clients close), any
 * frame a client sent or received that asyncapi.yaml does not describe fails the run.
 */
function failOnViolations(): void {
  const violations = takeContractViolations();
  if (violations.length === 0) return;
  throw new Error(
    `${violations.length} frame(s) outside asyncapi.yaml (the protocol document):\n${violations.slice(0, 20).join('\n')}`,
  );
}

afterEach(failOnViolations);
afterAll(failOnViolations);
