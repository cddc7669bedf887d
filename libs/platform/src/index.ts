export * from './config';
export * from './logger';
export * from './metrics';
export * from './health';
export * from './bootstrap';
export * from './retry';
