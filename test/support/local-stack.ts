import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import {
  type LocalStack,
  type LocalStackOptions,
  projectRoot,
  startStackOnFreePorts,
} from '../../scripts/local-stack.ts';
import { StackTable } from './stack-table.ts';

/** The stack `npm start` runs, on free ports, with a bundle folder of its own, plus a view into its table. */
export interface TestStack extends LocalStack {
  /** The stack's table, read and written past the handlers. */
  readonly table: StackTable;
  /** Every line the emulator has printed so far: its handlers' logs among them. */
  readonly output: readonly string[];
}

let stacks = 0;

export async function startTestStack(
  handlerEnv: Record<string, string> = {},
  params: Record<string, string> = {},
  options: Pick<LocalStackOptions, 'pollQueues'> = {},
): Promise<TestStack> {
  stacks += 1;
  const buildFolder = join('.esbuild', `test-${process.pid}-${stacks}`);
  const output: string[] = [];
  const stack = await startStackOnFreePorts({
    buildFolder,
    handlerEnv,
    params,
    ...options,
    log: (line) => output.push(line),
  });
  const table = new StackTable(stack);

  return {
    ...stack,
    table,
    output,
    async stop() {
      table.close();
      await stack.stop();
      await rm(join(projectRoot, buildFolder), { recursive: true, force: true });
    },
  };
}
