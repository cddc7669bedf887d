import { Stack, StackOptions, targetMode } from './stack';

/** Starts (native, containers) or attaches to (external) the stack E2E_TARGET names. */
export async function startStack(options: StackOptions): Promise<Stack> {
  const stack = await startTarget(options);
  const controller = new AbortController();
  return Object.assign(Object.create(stack) as Stack, {
    signal: controller.signal,
    stop: async () => {
      controller.abort(new Error('the stack was stopped'));
      await stack.stop();
    },
  });
}

// Each target is loaded only when chosen: the containers' one brings testcontainers and Docker's client.
async function startTarget(options: StackOptions): Promise<Stack> {
  const mode = targetMode();
  switch (mode) {
    case 'native':
      return (await import('./native-stack')).startNativeStack(options);
    case 'external':
      return (await import('./external-stack')).externalStack();
    case 'containers':
      return (await import('./container-stack')).startContainerStack(options);
  }
}
