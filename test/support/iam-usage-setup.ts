export { setup as default } from './iam-usage.ts';
