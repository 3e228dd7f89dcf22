/**
 * The handlers use `zod/mini`, which tree-shakes to about 17 KB where the classic API pulls in 440 KB, most
 * of a handler bundle. Each schema module imports this one for its side effect: zod's English messages,
 * loaded once, so every refusal explains itself. Import `zod/mini` itself as a namespace where it is used:
 * re-exporting the namespace from here would keep all of zod in the bundle.
 */
import en from 'zod/v4/locales/en.js';
import { config } from 'zod/mini';

config(en());
