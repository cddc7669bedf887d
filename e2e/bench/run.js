// Bundles the benchmark (TypeScript, workspace aliases) with the same esbuild setup as the apps
// and runs it: `npm run bench` / `nx run e2e:bench`, or with `domain` the in-process one
// (`npm run bench:domain`), or with `queries` the query benchmark (`npm run bench:queries -- --help`). Options are environment variables; see e2e/README.md.
const path = require('node:path');
const { bundle, root } = require('../../infra/build/bundle');

// Three levels below the root, like the apps' sources, so that repository paths resolve the same.
const name = ['domain', 'queries', 'queries-chart'].includes(process.argv[2]) ? process.argv[2] : 'bench';
const outfile = path.join(root, 'dist', 'e2e', 'bench', `${name}.js`);

bundle(path.join(__dirname, `${name}.ts`), outfile)
  .then(() => require(outfile).main(...(name === 'queries' ? [process.argv.slice(3)] : [])))
  .then(
    (code) => process.exit(code ?? 0),
    (err) => {
      console.error(err);
      process.exit(1);
    },
  );
