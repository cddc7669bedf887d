export * from './answer';
export * from './ingestion-client';
