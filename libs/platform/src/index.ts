export * from './config';
export * from './errors';
export * from './logger';
export * from './metrics';
export * from './health';
export * from './service';
export * from './retry';
