// Bundles one app into dist/apps/<app>/main.js (see bundle.js; the Docker image installs the
// production npm packages the bundle requires).
// Files an app needs at run time (e.g. SQL migrations) are listed in apps/<app>/assets.json as
// [{ "from": "<folder in the repository>", "to": "<folder next to main.js>" }] and copied alongside.
// Worker threads' entries (apps/<app>/src/<name>.worker.ts) are bundled next to it as <name>.worker.js.
const fs = require('node:fs');
const path = require('node:path');
const { bundle, root } = require('./bundle');

const app = process.argv[2];
if (!app) {
  console.error('usage: node infra/build/build-app.js <app>');
  process.exit(2);
}

function copyAssets() {
  const manifest = path.join(root, 'apps', app, 'assets.json');
  if (!fs.existsSync(manifest)) return;
  for (const { from, to } of JSON.parse(fs.readFileSync(manifest, 'utf8'))) {
    const target = path.join(root, 'dist', 'apps', app, to);
    fs.rmSync(target, { recursive: true, force: true });
    fs.cpSync(path.join(root, from), target, { recursive: true });
  }
}

const src = path.join(root, 'apps', app, 'src');
const out = path.join(root, 'dist', 'apps', app);
const workers = fs.readdirSync(src).filter((f) => f.endsWith('.worker.ts'));

Promise.all([
  bundle(path.join(src, 'main.ts'), path.join(out, 'main.js')),
  ...workers.map((f) => bundle(path.join(src, f), path.join(out, f.replace(/\.ts$/, '.js')))),
])
  .then(() => {
    copyAssets();
    console.log(`built dist/apps/${app}/main.js`);
  })
  .catch((err) => {
    // esbuild reports its own errors; anything else (e.g. a failed asset copy) is printed here.
    if (!Array.isArray(err?.errors)) console.error(err);
    process.exit(1);
  });
