import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { getContainerRuntimeClient } from 'testcontainers';
import { ROOT } from '../deploy/compose';

/**
 * Labels on everything the containers target creates: what a later spec file attaches to and
 * what the clean-up removes (by run, never by image or name, so other containers on the same
 * engine are left alone).
 */
export const LABELS = {
  /** One run of the suite: every container and network of it. */
  run: 'org.log-analytics.e2e.run',
  /** `infrastructure` (Kafka, MinIO, ClickHouse), `shared` (the services most specs share) or a spec's own stack. */
  stack: 'org.log-analytics.e2e.stack',
  /** The docker-compose.yml service a container runs. */
  service: 'org.log-analytics.e2e.service',
} as const;

/** Where the services' logs are kept when their containers are removed. */
export const CONTAINER_LOG_DIR = join(ROOT, '.stack', 'test-logs', 'containers');

export const runFilter = (run: string, stack?: string) => ({ label: [`${LABELS.run}=${run}`, ...(stack ? [`${LABELS.stack}=${stack}`] : [])] });

/**
 * Removes the run's containers (with their anonymous volumes) and then its network, keeping the
 * logs of the services first. `stack` narrows it to one stack of the run.
 */
export async function removeRun(run: string, stack?: string): Promise<string[]> {
  const client = await getContainerRuntimeClient();
  const docker = client.container.dockerode;
  const containers = await docker.listContainers({ all: true, filters: runFilter(run, stack) });
  const logDir = join(CONTAINER_LOG_DIR, run);
  await Promise.all(
    containers.map(async (info) => {
      const container = docker.getContainer(info.Id);
      const service = info.Labels[LABELS.service] ?? 'unknown';
      if (!['kafka', 'minio', 'clickhouse'].includes(service)) {
        // Best effort: the logs help explain a failure, their absence must not hide one.
        const logs = await container.logs({ stdout: true, stderr: true, timestamps: true, follow: false }).catch(() => undefined);
        if (logs) {
          mkdirSync(logDir, { recursive: true });
          writeFileSync(join(logDir, `${info.Labels[LABELS.stack]}-${service}.log`), demultiplex(logs));
        }
      }
      await container.remove({ force: true, v: true });
    }),
  );
  if (!stack) {
    const networks = await docker.listNetworks({ filters: runFilter(run) });
    for (const n of networks) await docker.getNetwork(n.Id).remove();
  }
  return containers.map((c) => c.Names[0]?.replace(/^\//, '') ?? c.Id);
}

/** Docker's log stream of a container without a TTY: 8-byte frame headers before each chunk. */
function demultiplex(buffer: Buffer): Buffer {
  const out: Buffer[] = [];
  let at = 0;
  while (at + 8 <= buffer.length) {
    const size = buffer.readUInt32BE(at + 4);
    out.push(buffer.subarray(at + 8, at + 8 + size));
    at += 8 + size;
  }
  return Buffer.concat(out);
}
