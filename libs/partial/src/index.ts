export * from './partial';
