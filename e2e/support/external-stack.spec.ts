import { ContainerView } from './docker-inspect';
import { instancesOf } from './external-stack';

const view = (name: string): ContainerView => ({ id: name, name: `p-${name}-1`, env: {}, port: () => undefined });
const project = (...services: string[]) => new Map(services.map((s) => [s, view(s)]));
const names = (views: ContainerView[]) => views.map((v) => v.id);

describe('instancesOf (a service of a docker-compose project, or its instances in a cluster)', () => {
  it('finds the service itself, or its numbered instances in order, and never a service that only starts with its name', () => {
    const cluster = project('kafka-3', 'kafka-access', 'kafka', 'kafka-2', 'batch-ingestion-2', 'batch-ingestion-1', 'balancer', 'clickhouse-10', 'clickhouse-2');
    expect(names(instancesOf(cluster, 'kafka'))).toEqual(['kafka', 'kafka-2', 'kafka-3']);
    expect(names(instancesOf(cluster, 'batch-ingestion'))).toEqual(['batch-ingestion-1', 'batch-ingestion-2']);
    expect(names(instancesOf(cluster, 'clickhouse'))).toEqual(['clickhouse-2', 'clickhouse-10']);
    expect(names(instancesOf(cluster, 'kafka-access'))).toEqual(['kafka-access']);
    expect(instancesOf(cluster, 'minio')).toEqual([]);
    expect(names(instancesOf(project('batch-ingestion', 'batch-ingestion-ops'), 'batch-ingestion'))).toEqual(['batch-ingestion']);
  });
});
