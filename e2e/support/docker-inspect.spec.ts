import { containerView } from './docker-inspect';

describe('containerView', () => {
  const inspected = {
    Id: 'f3a9c2',
    Name: '/log-analytics_batch-ingestion_1',
    Config: { Env: ['GATEWAY_TOKENS=default=abc==', 'PORT=8080', 'EMPTY='] },
    HostConfig: { PortBindings: { '8080/tcp': [{ HostIp: '127.0.0.1', HostPort: '18080' }], '9464/tcp': [] } },
  };

  it('names the container without the leading slash', () => {
    expect(containerView(inspected)).toMatchObject({ id: 'f3a9c2', name: 'log-analytics_batch-ingestion_1' });
  });

  it('splits each variable at its first =, so values keep theirs', () => {
    expect(containerView(inspected).env).toEqual({ GATEWAY_TOKENS: 'default=abc==', PORT: '8080', EMPTY: '' });
  });

  it('finds the host port of a published TCP port, and none for one not published', () => {
    const view = containerView(inspected);
    expect(view.port(8080)).toBe(18080);
    expect(view.port(9464)).toBeUndefined();
    expect(view.port(9000)).toBeUndefined();
  });

  it('copes with a container that has no environment or bindings at all', () => {
    const view = containerView({ Id: 'x', Name: '/x', Config: { Env: null }, HostConfig: { PortBindings: null } });
    expect(view.env).toEqual({});
    expect(view.port(8080)).toBeUndefined();
  });
});
