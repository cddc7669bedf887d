export * from './summarize';
export * from './split';
export * from './window-state';
export * from './window-state-cache';
export * from './merge';
