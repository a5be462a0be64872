/**
 * A mistake in how the command was called (unknown option, missing value...). `valkit`
 * prints its message and the usage line, and exits with status 2.
 */
export class UsageError extends Error {
  constructor(message: string) {
    super(message)
    this.name = 'UsageError'
  }
}
