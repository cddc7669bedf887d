export * from './minute';
