export * from './paths';
export * from './process';
export * from './servers';
export * from './apps';
export * from './metrics';
