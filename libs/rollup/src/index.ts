export * from './rollup';
