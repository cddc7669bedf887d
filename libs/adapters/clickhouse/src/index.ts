export * from './sql';
export * from './migrations';
export * from './gateway';
