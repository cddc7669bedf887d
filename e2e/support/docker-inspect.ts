/** The part of `docker inspect`'s document (the CLI's JSON and the engine API's alike) the suites read. */
export interface InspectedContainer {
  Id: string;
  Name: string;
  Config: { Env?: string[] | null };
  HostConfig: { PortBindings?: Record<string, { HostIp?: string; HostPort?: string }[] | null> | null };
}

/** A container as the suites use it: its name, its environment and the ports it publishes. */
export interface ContainerView {
  id: string;
  name: string;
  env: Record<string, string>;
  /** The host port a container port is published on, from its configuration: known while it is down too. */
  port(containerPort: number): number | undefined;
}

export function containerView(c: InspectedContainer): ContainerView {
  const bindings = c.HostConfig.PortBindings ?? {};
  return {
    id: c.Id,
    name: c.Name.replace(/^\//, ''),
    // A value may hold '=' itself (a URL's query, a base64 secret): only the first one splits.
    env: Object.fromEntries((c.Config.Env ?? []).map((kv) => [kv.slice(0, kv.indexOf('=')), kv.slice(kv.indexOf('=') + 1)])),
    port: (containerPort) => Number(bindings[`${containerPort}/tcp`]?.[0]?.HostPort) || undefined,
  };
}
