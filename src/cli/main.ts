#!/usr/bin/env node
/**
 * The `valkit` executable (package.json `bin`): `valkit serve`, `valkit doctor`.
 */
import { runCli } from './run-cli.js'

const code = await runCli(process.argv.slice(2), {
  stdout: process.stdout,
  stderr: process.stderr,
  env: process.env,
})
process.exitCode = code
