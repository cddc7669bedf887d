import { spawnSync } from 'node:child_process';
import { topicEnv } from '@pipeline/contract';
import { clickhouseEnv, kafkaEnv, retentionEnv, s3Env, serviceEnv } from '@pipeline/platform';
import { parse } from 'yaml';
import { appEnvironment, APPS, interpolate, readRepoFile, requiredVariables, ROOT } from './files';

describe('interpolate (docker-compose substitution)', () => {
  const env = { SET: 'value', EMPTY: '' };

  it('substitutes plain, braced and defaulted variables like docker-compose', () => {
    expect(interpolate('$SET ${SET} ${UNSET:-d} ${EMPTY:-d} ${EMPTY-d} ${UNSET-d} $$SET', env)).toBe('value value d d  d $SET');
  });

  it('fails on a required variable that is unset (?) or unset or empty (:?), naming it and the message', () => {
    expect(interpolate('${SET:?needed}', env)).toBe('value');
    expect(interpolate('${EMPTY?needed}', env)).toBe('');
    expect(() => interpolate('${EMPTY:?the token}', env)).toThrow('EMPTY: the token');
    expect(() => interpolate('${UNSET?x}', env)).toThrow('UNSET: x');
    expect(() => interpolate('${UNSET:?}', env)).toThrow('UNSET must be set');
  });
});

describe('e2e/compose/e2e.yml (what the e2e runner adds to docker-compose.yml)', () => {
  const PLATFORM_SHAPES = { serviceEnv, kafkaEnv, topicEnv, s3Env, clickhouseEnv, retentionEnv } as Record<string, Record<string, unknown>>;
  const override = parse(readRepoFile('e2e/compose/e2e.yml')) as { services: Record<string, { environment?: Record<string, string> }> };

  it('sets only variables the configuration of each service reads', () => {
    for (const [service, def] of Object.entries(override.services)) {
      expect(APPS).toContain(service);
      const { known } = appEnvironment(service as (typeof APPS)[number], PLATFORM_SHAPES);
      expect([service, Object.keys(def.environment ?? {}).filter((k) => !known.has(k))]).toEqual([service, []]);
    }
  });

  it('is valid with docker-compose.yml, given the credentials docker-compose.yml requires', () => {
    const secrets = Object.fromEntries(requiredVariables().map((name) => [name, `dummy-${name.toLowerCase()}`]));
    const config = (extraEnv: Record<string, string>) =>
      spawnSync('docker-compose', ['-f', 'docker-compose.yml', '-f', 'e2e/compose/e2e.yml', 'config', '-q'], {
        cwd: ROOT,
        encoding: 'utf8',
        timeout: 60_000,
        env: { PATH: process.env.PATH, HOME: process.env.HOME, ...extraEnv },
      });
    expect(config(secrets)).toMatchObject({ status: 0, stderr: '' });
    const without = config({ ...secrets, GATEWAY_TOKEN: '' });
    expect(without.status).not.toBe(0);
    expect(without.stderr).toContain('GATEWAY_TOKEN');
  });
});
