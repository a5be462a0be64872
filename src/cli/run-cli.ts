import { isValkitError } from '../core/errors.js'
import { println, type CliIo } from './cli-io.js'
import { doctorCommand } from './doctor-command.js'
import { serveCommand } from './serve-command.js'
import { UsageError } from './usage-error.js'
import { packageVersion } from './version.js'

/** Help text of `valkit`. */
export const MAIN_USAGE = `Usage: valkit <command> [options]

Commands:
  serve     run the health, metrics and admin server with the live dashboard
  doctor    check a Redis/Valkey server and print a health report

Options:
  -h, --help       show help (also: valkit <command> --help)
  -v, --version    print the version

Environment: VALKIT_REDIS_URL (or REDIS_URL), VALKIT_ADMIN_TOKEN, VALKIT_ADMIN_TOKEN_FILE.`

/**
 * Runs the `valkit` command line with `argv` (without `node` and the script) and returns the
 * exit status: 0 success, 1 failure (or critical findings for `doctor`), 2 usage error.
 */
export async function runCli(argv: readonly string[], io: CliIo): Promise<number> {
  const [command, ...rest] = argv
  try {
    switch (command) {
      case undefined:
      case '-h':
      case '--help':
      case 'help':
        println(command === undefined ? io.stderr : io.stdout, MAIN_USAGE)
        return command === undefined ? 2 : 0
      case '-v':
      case '--version':
        println(io.stdout, packageVersion())
        return 0
      case 'serve':
        return await serveCommand(rest, io)
      case 'doctor':
        return await doctorCommand(rest, io)
      default:
        throw new UsageError(
          command.startsWith('-')
            ? `unknown option ${command}`
            : `unknown command ${JSON.stringify(command)}`,
        )
    }
  } catch (err) {
    if (err instanceof UsageError) {
      println(io.stderr, `valkit: ${err.message}`)
      println(
        io.stderr,
        `Run \`valkit ${command === 'serve' || command === 'doctor' ? `${command} ` : ''}--help\` for usage.`,
      )
      return 2
    }
    if (isValkitError(err, 'VALKIT_INVALID_OPTION')) {
      println(io.stderr, `valkit: ${err.message}`)
      return 2
    }
    println(io.stderr, `valkit: ${err instanceof Error ? err.message : String(err)}`)
    return 1
  }
}
