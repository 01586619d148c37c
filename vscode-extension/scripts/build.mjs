// Bundles the extension (dist/extension.js) or the tests (out/test/**.js) with esbuild.
import * as esbuild from 'esbuild';
import { readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';

const args = new Set(process.argv.slice(2));
const production = args.has('--production');

function testEntries(dir) {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const full = join(dir, entry.name);
    if (entry.isDirectory()) {
      return testEntries(full);
    }
    return entry.name.endsWith('.test.ts') ? [full] : [];
  });
}

if (args.has('--tests')) {
  rmSync('out/test', { recursive: true, force: true });
  await esbuild.build({
    entryPoints: testEntries('test'),
    outbase: '.',
    outdir: 'out',
    bundle: true,
    platform: 'node',
    format: 'cjs',
    target: 'node20',
    sourcemap: 'inline',
    // Unit tests cover the modules that do not import `vscode`; the real editor is exercised by the e2e test.
    external: ['playwright-core', 'vscode'],
    logLevel: 'warning',
  });
} else {
  const options = {
    entryPoints: ['src/extension.ts'],
    outfile: 'dist/extension.js',
    bundle: true,
    platform: 'node',
    format: 'cjs',
    target: 'node18',
    external: ['vscode'],
    minify: production,
    sourcemap: !production,
    logLevel: 'warning',
  };
  if (args.has('--watch')) {
    const context = await esbuild.context(options);
    await context.watch();
  } else {
    await esbuild.build(options);
  }
}
