export * from './ids';
export * from './storage';
export * from './topics';
export * from './batch-ingested';
export * from './insight-event';
export * from './dead-letter';
