export * from './object-store';
export * from './s3-object-store';
export * from './object-http';
export * from './failure';
