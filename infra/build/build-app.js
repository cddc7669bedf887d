// Bundles one app into dist/apps/<app>/main.js. Workspace libs are inlined; npm packages stay
// external and come from node_modules at run time (the Docker image installs production deps).
// esbuild does not emit decorator metadata, so Nest constructor parameters use explicit @Inject.
// Files an app needs at run time (e.g. SQL migrations) are listed in apps/<app>/assets.json as
// [{ "from": "<folder in the repository>", "to": "<folder next to main.js>" }] and copied alongside.
const fs = require('node:fs');
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

function copyAssets() {
  const manifest = path.join(root, 'apps', app, 'assets.json');
  if (!fs.existsSync(manifest)) return;
  for (const { from, to } of JSON.parse(fs.readFileSync(manifest, 'utf8'))) {
    const target = path.join(root, 'dist', 'apps', app, to);
    fs.rmSync(target, { recursive: true, force: true });
    fs.cpSync(path.join(root, from), target, { recursive: true });
  }
}

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
  .then(() => {
    copyAssets();
    console.log(`built dist/apps/${app}/main.js`);
  })
  .catch((err) => {
    // esbuild reports its own errors; anything else (e.g. a failed asset copy) is printed here.
    if (!Array.isArray(err?.errors)) console.error(err);
    process.exit(1);
  });
