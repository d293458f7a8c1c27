// `node --import ./test/support/record-loads.mjs`: appends every module URL the process loads to $BRAID_LOAD_LOG.
import { register } from 'node:module';

register(
  'data:text/javascript,' +
    encodeURIComponent(`
import { appendFileSync } from 'node:fs';
export async function load(url, context, next) {
  if (process.env.BRAID_LOAD_LOG) appendFileSync(process.env.BRAID_LOAD_LOG, url + '\\n');
  return next(url, context);
}`),
);
