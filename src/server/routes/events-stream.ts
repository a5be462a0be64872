import type { FastifyReply } from 'fastify'
import type { HubMessage, SnapshotHub } from '../snapshot-hub.js'

/** Open event streams, so `close()` can end them (they would hold the server open otherwise). */
export type OpenStreams = Set<() => void>

function frame(message: HubMessage): string {
  return `event: ${message.event}\ndata: ${JSON.stringify(message.data)}\n\n`
}

/**
 * Serves one Server-Sent Events stream: a `snapshot` event at once and then every interval, a
 * `state` event on each supervisor state change, and a keep-alive comment every `keepAliveMs`.
 */
export function streamEvents(
  reply: FastifyReply,
  hub: SnapshotHub,
  keepAliveMs: number,
  open: OpenStreams,
): void {
  reply.hijack()
  const res = reply.raw
  res.writeHead(200, {
    'content-type': 'text/event-stream; charset=utf-8',
    'cache-control': 'no-store',
    connection: 'keep-alive',
    'x-accel-buffering': 'no',
  })
  res.write(': valkit events\nretry: 2000\n\n')

  let closed = false
  const write = (text: string): void => {
    if (!closed) res.write(text)
  }
  // Queue live messages until the first snapshot is out, so events arrive in order.
  let pending: HubMessage[] | undefined = []
  const unsubscribe = hub.subscribe((message) => {
    if (pending) pending.push(message)
    else write(frame(message))
  })
  const keepAlive = setInterval(() => write(`: keep-alive ${Date.now()}\n\n`), keepAliveMs)
  keepAlive.unref()

  const end = (): void => {
    if (closed) return
    closed = true
    clearInterval(keepAlive)
    unsubscribe()
    open.delete(end)
    res.end()
  }
  open.add(end)
  res.on('close', end)
  res.on('error', end)

  void hub.snapshot().then((data) => {
    write(frame({ event: 'snapshot', data }))
    const queued = pending ?? []
    pending = undefined
    for (const message of queued) write(frame(message))
  })
}
