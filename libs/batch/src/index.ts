export * from './rejection';
export * from './headers';
export * from './body';
export * from './ingest';
export * from './announced';
export * from './gateway-auth';
export * from './rate-limit';
export * from './openapi';
