export * from './minute';
export * from './retention';
export * from './period';
