#!/usr/bin/env node
// The `ferrite` command; the program is `main` in ts/cli/index.ts, compiled to dist/cjs/cli/index.js.
'use strict'

const { main } = require('../dist/cjs/cli/index.js')

main(process.argv.slice(2)).then((status) => {
  process.exitCode = status
})
