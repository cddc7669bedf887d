import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { REPO_ROOT } from './paths';
import { PrivateServer, privateClickHouse, privateKafka, privateMinio } from './servers';

const run = promisify(execFile);
const answers = (kind: string, endpoint: string) =>
  run(process.execPath, [join(REPO_ROOT, 'infra/local/probe.js'), kind, endpoint]).then(
    () => true,
    () => false,
  );

// The fault tests of the services stop and restart these; here we check that they really do.
describe.each([
  ['s3', privateMinio],
  ['clickhouse', privateClickHouse],
  ['kafka', privateKafka],
] as const)('private %s server', (kind, create) => {
  let server: PrivateServer;
  beforeAll(async () => {
    server = await create();
  });
  afterAll(() => server?.dispose());

  it('answers, goes away when stopped, and comes back on start', async () => {
    expect(await answers(kind, server.endpoint)).toBe(true);
    await server.stop();
    expect(await answers(kind, server.endpoint)).toBe(false);
    await server.start();
    expect(await answers(kind, server.endpoint)).toBe(true);
  });
});
