import { gatewayToken } from './http';
import { targetMode } from './stack';

/**
 * Jest global set-up of the e2e project. For E2E_TARGET=containers it names the run, so that the
 * spec files share its containers (see container-stack.ts), and fixes the gateway token every
 * spec file sends with. Nothing to do for the other targets.
 */
export default async function globalSetup(): Promise<void> {
  if (targetMode() !== 'containers') return;
  process.env.E2E_CONTAINERS_RUN ||= `r${Date.now().toString(36)}${Math.random().toString(36).slice(2, 6)}`;
  gatewayToken(process.env);
}
