import { removeRun } from './containers';
import { targetMode } from './stack';

/** Removes the containers and the network of the run (E2E_KEEP=1 keeps them). */
export default async function globalTeardown(): Promise<void> {
  const run = process.env.E2E_CONTAINERS_RUN;
  if (targetMode() !== 'containers' || !run) return;
  if (process.env.E2E_KEEP === '1') {
    process.stderr.write(`[e2e] E2E_KEEP=1: containers of run ${run} kept; remove them with: docker rm -fv $(docker ps -aq --filter label=org.log-analytics.e2e.run=${run}) && docker network rm e2e-${run}\n`);
    return;
  }
  const removed = await removeRun(run);
  if (removed.length) process.stderr.write(`[e2e] removed ${removed.length} containers of run ${run}\n`);
}
