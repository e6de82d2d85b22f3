#!/usr/bin/env node
// The `ferrite` command; the program is `main` in ts/cli.ts, compiled to dist/cjs/cli.js.
'use strict'

const { main } = require('../dist/cjs/cli.js')

main(process.argv.slice(2)).then((status) => {
  process.exitCode = status
})
