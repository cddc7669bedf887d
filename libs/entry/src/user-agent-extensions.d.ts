// ua-parser-js publishes its extensions only through package.json "exports", which the
// workspace's `node` module resolution does not read; this points the type checker at them.
declare module 'ua-parser-js/extensions' {
  export * from 'ua-parser-js/src/extensions/ua-parser-extensions';
}
