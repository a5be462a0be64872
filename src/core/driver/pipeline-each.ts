/**
 * A pipeline for drivers that write every command issued in one tick together (node-redis,
 * ioredis with auto-pipelining): send each command, keep each reply or its error.
 */
export function pipelineEach<T, R>(
  commands: readonly T[],
  send: (command: T) => Promise<R>,
): Promise<(R | Error)[]> {
  return Promise.all(
    commands.map((command) =>
      send(command).catch((err: unknown) => (err instanceof Error ? err : new Error(String(err)))),
    ),
  )
}
