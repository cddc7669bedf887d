export * from './partial';
export * from './summarize';
export * from './window-state';
export * from './window-state-cache';
export * from './merge';
