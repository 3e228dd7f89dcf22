export { teardown as default } from './iam-usage.ts';
