export * from './dependency-error';
export * from './classify';
export * from './policy';
export * from './resilience';
