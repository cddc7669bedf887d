export * from './config';
export * from './failure';
export * from './logger';
export * from './metrics';
export * from './health';
export * from './service';
