export * from './client';
export * from './producer';
export * from './lag';
export * from './coalescing-publisher';
