import { spawn } from 'node:child_process';

/**
 * Runs a measurement script in a fresh Node.js process (`--expose-gc`, so heap figures start from a clean
 * slate) with its parameters as JSON, and resolves with the JSON of the last line it prints.
 */
export function runWorkerProcess<T>(script: string, params: unknown, what: string): Promise<T> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--expose-gc', script, JSON.stringify(params)], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.once('error', reject);
    child.once('exit', (code) => {
      const line = stdout.trim().split('\n').pop() ?? '';
      if (code !== 0 || line === '') {
        reject(new Error(`${what} exited with ${code}: ${stderr.slice(-2000)}`));
        return;
      }
      resolve(JSON.parse(line) as T);
    });
  });
}
