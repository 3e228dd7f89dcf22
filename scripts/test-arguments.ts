/**
 * What `npm test` (and each `npm run test:<tier>`) hands jest. Alone, it runs the default tiers (unit, contract, e2e,
 * stack) and checks least privilege after them (CHAT_IAM_REPORT=check). Other arguments come first and the tiers last,
 * so that no argument is taken for a tier's name: a path to a test file or folder runs it in whichever tier it is in;
 * a pattern or `-t <name>` narrows the default tiers; `--selectProjects <tier>...` picks the tiers.
 */
export const DEFAULT_TIERS = ['unit', 'contract', 'e2e', 'stack'] as const;

/** Every tier: the jest projects of jest.config.js. */
export const TIERS: readonly string[] = [...DEFAULT_TIERS, 'browser', 'reliability'];

export interface TestRun {
  readonly args: readonly string[];
  /** Whether least privilege is checked after the run: only a full run shows every call the functions need. */
  readonly iamCheck: boolean;
}

export function testRun(args: readonly string[], isPath: (arg: string) => boolean): TestRun {
  if (args.length === 0) return { args: ['--selectProjects', ...DEFAULT_TIERS], iamCheck: true };
  const tiers: string[] = [];
  const rest: string[] = [];
  for (let i = 0; i < args.length; i += 1) {
    const arg = args[i] ?? '';
    if (arg !== '--selectProjects') {
      rest.push(arg);
      continue;
    }
    while (TIERS.includes(args[i + 1] ?? '')) {
      i += 1;
      tiers.push(args[i] ?? '');
    }
  }
  if (tiers.length > 0) return { args: [...rest, '--selectProjects', ...tiers], iamCheck: false };
  const namesPaths = rest.some((arg) => !arg.startsWith('-') && isPath(arg));
  return { args: namesPaths ? rest : [...rest, '--selectProjects', ...DEFAULT_TIERS], iamCheck: false };
}
