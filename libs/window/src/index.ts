export * from './minute';
export * from './retention';
