export * from './lines';
export * from './formats';
export * from './batches';
export * from './report';
