import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import { describe, expect, it } from '@jest/globals';
import { projectRoot } from '../../scripts/local-stack.ts';
import { DEFAULT_TIERS, testRun, TIERS } from '../../scripts/test-arguments.ts';

const run = promisify(execFile);
const paths = new Set(['test/unit/display-name.test.ts', 'test/browser']);
const isPath = (arg: string): boolean => paths.has(arg);

describe('the arguments npm test hands jest', () => {
  it('runs the default tiers and checks least privilege when given none', () => {
    expect(testRun([], isPath)).toEqual({ args: ['--selectProjects', ...DEFAULT_TIERS], iamCheck: true });
  });

  it('runs a file named by its path in whichever tier it is in, without the least-privilege check', () => {
    expect(testRun(['test/unit/display-name.test.ts'], isPath)).toEqual({
      args: ['test/unit/display-name.test.ts'],
      iamCheck: false,
    });
  });

  it('narrows the default tiers by a test name, the tiers named last so that they take no other argument', () => {
    expect(testRun(['-t', 'refuses'], isPath)).toEqual({
      args: ['-t', 'refuses', '--selectProjects', ...DEFAULT_TIERS],
      iamCheck: false,
    });
  });

  it('runs the tiers --selectProjects names, with the arguments after them moved before them', () => {
    expect(testRun(['--selectProjects', 'browser', 'test/browser', '-t', 'tabs'], isPath).args).toEqual([
      'test/browser',
      '-t',
      'tabs',
      '--selectProjects',
      'browser',
    ]);
  });

  it("knows every tier by its jest project's name", async () => {
    const config = (await import(pathToFileURL(join(projectRoot, 'jest.config.js')).href)) as {
      default: { projects: Array<{ displayName: string }> };
    };

    expect(config.default.projects.map((project) => project.displayName)).toEqual(TIERS);
  });

  it('lists only the file that `npm test -- <file>` names', async () => {
    const { stdout } = await run('npm', ['test', '--silent', '--', 'test/unit/display-name.test.ts', '--listTests'], {
      cwd: projectRoot,
    });

    expect(stdout.trim().split('\n')).toEqual([`${projectRoot}/test/unit/display-name.test.ts`]);
  });
});
