/**
 * dynalite (with the project's transactions, scripts/dynalite-transactions.ts) in a process of its own, for the
 * latency bench: on AWS the database answers from elsewhere, so its work must not queue behind the bench's clients
 * and proxies on one event loop. Prints `ready <endpoint>` once it listens; stops on SIGTERM.
 *
 *   node bench/dynalite-process.ts <port>
 */
import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { projectRoot, startDynalite } from '../scripts/local-stack.ts';

/** Starts dynalite in a child process on `port`; `stop` ends it. */
export async function startDynaliteProcess(port: number): Promise<{ endpoint: string; stop(): Promise<void> }> {
  const child = spawn(process.execPath, [import.meta.filename, String(port)], {
    cwd: projectRoot,
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const endpoint = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('dynalite did not start within 30 s')), 30_000);
    child.once('exit', (code) => reject(new Error(`dynalite exited with ${code}`)));
    createInterface({ input: child.stdout }).on('line', (line) => {
      const [word, url] = line.split(' ');
      if (word === 'ready' && url !== undefined) {
        clearTimeout(timer);
        resolve(url);
      }
    });
  });
  return {
    endpoint,
    stop: () =>
      new Promise<void>((resolve) => {
        if (child.exitCode !== null) return resolve();
        const timer = setTimeout(() => child.kill('SIGKILL'), 5_000);
        child.once('exit', () => {
          clearTimeout(timer);
          resolve();
        });
        child.kill('SIGTERM');
      }),
  };
}

if (process.argv[1] === import.meta.filename) {
  const { endpoint, server } = await startDynalite(Number(process.argv[2]));
  process.once('SIGTERM', () => server.close(() => process.exit(0)));
  console.log(`ready ${endpoint}`);
}
