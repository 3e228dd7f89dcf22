import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from '@jest/globals';

const root = join(import.meta.dirname, '..', '..');
const readme = readFileSync(join(root, 'README.md'), 'utf8');

/** Every TypeScript file under `folder`, recursively. */
function sources(folder: string): string[] {
  return readdirSync(folder).flatMap((name) => {
    const path = join(folder, name);
    if (statSync(path).isDirectory()) return sources(path);
    return path.endsWith('.ts') ? [path] : [];
  });
}

describe('README.md', () => {
  it('documents every CHAT_* variable that the scripts, benchmarks and test support read', () => {
    const read = new Set<string>();
    for (const folder of ['scripts', 'bench', 'test/support']) {
      for (const file of sources(join(root, folder))) {
        for (const [name] of readFileSync(file, 'utf8').matchAll(/\bCHAT_[A-Z0-9_]+\b/g)) read.add(name);
      }
    }

    const undocumented = [...read].filter((name) => !readme.includes(`\`${name}`)).sort();

    expect(read.size).toBeGreaterThan(10);
    expect(undocumented).toEqual([]);
  });

  it('stays a ten-minute read: at most 3,000 words', () => {
    const words = readme.split(/\s+/).filter((word) => word !== '').length;

    expect(words).toBeLessThanOrEqual(3000);
  });

  it('links only to files that exist', () => {
    const targets = [...readme.matchAll(/\]\(([^)#\s]+)(?:#[^)]*)?\)/g)]
      .map(([, target]) => target ?? '')
      .filter((target) => !/^[a-z]+:/.test(target));

    const missing = targets.filter((target) => !existsSync(join(root, target)));

    expect(targets.length).toBeGreaterThan(5);
    expect(missing).toEqual([]);
  });

  it('links each document under docs/ to files that exist', () => {
    const missing: string[] = [];
    for (const file of readdirSync(join(root, 'docs')).filter((name) => name.endsWith('.md'))) {
      const text = readFileSync(join(root, 'docs', file), 'utf8');
      for (const [, target] of text.matchAll(/\]\(([^)#\s]+)(?:#[^)]*)?\)/g)) {
        if (target === undefined || /^[a-z]+:/.test(target)) continue;
        if (!existsSync(join(root, 'docs', target))) missing.push(`${file} → ${target}`);
      }
    }

    expect(missing).toEqual([]);
  });
});
