/** Where a command writes, and what it reads from the environment (swappable in tests). */
export interface CliIo {
  readonly stdout: NodeJS.WritableStream & { isTTY?: boolean }
  readonly stderr: NodeJS.WritableStream
  readonly env: NodeJS.ProcessEnv
}

/** Writes one line. */
export function println(stream: NodeJS.WritableStream, text = ''): void {
  stream.write(`${text}\n`)
}

/** ANSI styling, off unless the stream is a terminal and `NO_COLOR` is unset. */
export function createStyle(io: CliIo) {
  const on = io.stdout.isTTY === true && !io.env.NO_COLOR && io.env.TERM !== 'dumb'
  const wrap = (open: number, close: number) => (text: string) =>
    on ? `\u001b[${open}m${text}\u001b[${close}m` : text
  return {
    bold: wrap(1, 22),
    dim: wrap(2, 22),
    red: wrap(31, 39),
    green: wrap(32, 39),
    yellow: wrap(33, 39),
    blue: wrap(34, 39),
    cyan: wrap(36, 39),
  }
}

/** The styling functions of {@link createStyle}. */
export type Style = ReturnType<typeof createStyle>
