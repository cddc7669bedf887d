export * from './paths';
export * from './process';
export * from './servers';
export * from './apps';
export * from './metrics';
export * from './env';
export * from './kafka';
