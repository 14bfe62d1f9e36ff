#!/usr/bin/env node
// The `layerlab` command. It runs the built CLI (out/main/cli.js), which `npm install` builds through the
// package's `prepare` script.
'use strict'
const fs = require('node:fs')
const path = require('node:path')

const cli = path.join(__dirname, '..', 'out', 'main', 'cli.js')
if (!fs.existsSync(cli)) {
  process.stderr.write('error: LayerLab is not built yet: run `npm install` (or `npm run build`) in ' + path.dirname(__dirname) + '\n')
  process.exit(1)
}
require(cli)
