import { access, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from '@jest/globals';
import { buildWeb } from '../../scripts/build-web.ts';

const SERVER = 'wss://abc123.execute-api.eu-west-1.amazonaws.com/prod';

describe('npm run build:web', () => {
  let out: string;

  beforeEach(async () => {
    out = join(await mkdtemp(join(tmpdir(), 'chat-web-')), 'site');
  });

  afterEach(async () => {
    await rm(join(out, '..'), { recursive: true, force: true });
  });

  it('writes the page, its styles, its script and a config.json naming the server', async () => {
    await buildWeb({ outDir: out, websocketUrl: SERVER });

    expect((await readdir(out)).sort()).toEqual(['app.js', 'config.json', 'index.html', 'styles.css']);
    expect(JSON.parse(await readFile(join(out, 'config.json'), 'utf8'))).toEqual({ websocketUrl: SERVER });
  });

  it('writes a page whose every local script and stylesheet is in the folder', async () => {
    await buildWeb({ outDir: out, websocketUrl: SERVER });

    const html = await readFile(join(out, 'index.html'), 'utf8');
    // A data: URL (the page's empty icon) is in the page itself.
    const linked = [...html.matchAll(/(?:src|href)="([^"]+)"/g)]
      .map((match) => match[1] ?? '')
      .filter((target) => !target.startsWith('data:'));
    expect(linked.sort()).toEqual(['app.js', 'styles.css']);
    expect(await readFile(join(out, 'app.js'), 'utf8')).toMatch(/config\.json/);
  });

  it('writes no config.json without a server, and removes the one an earlier build wrote', async () => {
    await buildWeb({ outDir: out, websocketUrl: SERVER });

    await buildWeb({ outDir: out });

    await expect(access(join(out, 'config.json'))).rejects.toThrow(/ENOENT/);
  });

  it.each([
    'https://chat.example.com/',
    'wss://user:secret@chat.example.com/',
    'wss://chat.example.com/?token=x',
    'chat',
  ])('refuses %s as the server, writing nothing', async (server) => {
    await expect(buildWeb({ outDir: out, websocketUrl: server })).rejects.toThrow(
      /--ws must be a ws:\/\/ or wss:\/\/ URL/,
    );

    await expect(access(out)).rejects.toThrow(/ENOENT/);
  });

  it('leaves the other files of the folder alone', async () => {
    await buildWeb({ outDir: out });
    await writeFile(join(out, 'favicon.ico'), 'icon');

    await buildWeb({ outDir: out, websocketUrl: SERVER });

    expect(await readFile(join(out, 'favicon.ico'), 'utf8')).toBe('icon');
  });
});
