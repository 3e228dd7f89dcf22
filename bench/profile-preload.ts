/**
 * Preloaded into the emulator's process by `npm run profile` (NODE_OPTIONS=--import, since Node refuses --cpu-prof
 * there): SIGUSR2 starts node:inspector's CPU profiler, the next SIGUSR2 stops it and writes the profile to
 * CHAT_PROFILE_OUT. A marker file beside it says when the profiler runs, so the harness starts its load after that.
 */
import { writeFileSync } from 'node:fs';
import { Session } from 'node:inspector/promises';

const out = process.env['CHAT_PROFILE_OUT'];
const intervalMicros = Number(process.env['CHAT_PROFILE_INTERVAL_US'] ?? '200');

if (out !== undefined && out !== '') {
  const session = new Session();
  session.connect();
  let running = false;
  let busy = Promise.resolve();
  const toggle = async (): Promise<void> => {
    if (!running) {
      await session.post('Profiler.enable');
      await session.post('Profiler.setSamplingInterval', { interval: intervalMicros });
      await session.post('Profiler.start');
      running = true;
      writeFileSync(`${out}.started`, String(process.pid));
      return;
    }
    const { profile } = await session.post('Profiler.stop');
    running = false;
    writeFileSync(out, JSON.stringify(profile));
  };
  process.on('SIGUSR2', () => {
    busy = busy.then(toggle, toggle);
  });
}
