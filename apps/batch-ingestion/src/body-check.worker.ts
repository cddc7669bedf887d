import { checkBatchBody, Checked, CheckedBody } from '@pipeline/batch';
import type { KeptTimes } from '@pipeline/entry';

/** The task of the body-check thread (BodyChecker); bundled on its own, next to main.js. */
export default function checkBody({ body, kept }: { body: Uint8Array; kept?: KeptTimes }): Checked<CheckedBody> {
  return checkBatchBody(body, kept);
}
