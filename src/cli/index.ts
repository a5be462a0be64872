/** The `valkit` command line, callable in-process. */
export { runCli, MAIN_USAGE } from './run-cli.js'
export { serveCommand, SERVE_USAGE } from './serve-command.js'
export { doctorCommand, DOCTOR_USAGE } from './doctor-command.js'
export { formatHealthReport, sortFindings } from './format-report.js'
export { UsageError } from './usage-error.js'
export type { CliIo } from './cli-io.js'
