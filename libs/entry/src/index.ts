export * from './entry';
export * from './validate';
export * from './path';
export * from './user-agent';
export * from './normalize';
export * from './schema';
