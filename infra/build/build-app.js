// Bundles one app into dist/apps/<app>/main.js. Workspace libs are inlined; npm packages stay
// external and come from node_modules at run time (the Docker image installs production deps).
// esbuild does not emit decorator metadata, so Nest constructor parameters use explicit @Inject.
const path = require('node:path');
const esbuild = require('esbuild');
const { compilerOptions } = require('../../tsconfig.base.json');

const app = process.argv[2];
if (!app) {
  console.error('usage: node infra/build/build-app.js <app>');
  process.exit(2);
}
const root = path.resolve(__dirname, '../..');
const alias = Object.fromEntries(
  Object.entries(compilerOptions.paths).map(([name, [target]]) => [name, path.join(root, target)]),
);

esbuild
  .build({
    entryPoints: [path.join(root, 'apps', app, 'src', 'main.ts')],
    outfile: path.join(root, 'dist', 'apps', app, 'main.js'),
    bundle: true,
    platform: 'node',
    target: 'node24',
    format: 'cjs',
    sourcemap: true,
    packages: 'external',
    alias,
    tsconfig: path.join(root, 'tsconfig.base.json'),
    logLevel: 'warning',
  })
  .then(() => console.log(`built dist/apps/${app}/main.js`))
  .catch(() => process.exit(1));
