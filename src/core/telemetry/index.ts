export { createMetricsRegistry, PROMETHEUS_CONTENT_TYPE } from './metrics-registry.js'
export type { CounterOptions, MetricsRegistry, MetricsRegistryOptions } from './metrics-registry.js'
export { Counter, CounterChild } from './counter.js'
export { Gauge, GaugeChild } from './gauge.js'
export type { GaugeOptions } from './gauge.js'
export { DEFAULT_BUCKETS, Histogram, HistogramChild } from './histogram.js'
export type { HistogramOptions } from './histogram.js'
export type { LabelValues } from './label-children.js'
export type {
  HistogramSample,
  MetricOptions,
  MetricSample,
  MetricSnapshot,
  MetricType,
} from './metric-types.js'
export { QuantileSketch } from './quantile-sketch.js'
export type { Percentiles } from './quantile-sketch.js'
export { CORE_COMMAND_CHANNEL, CORE_STATE_CHANNEL } from './channels.js'
export { publisher, traced } from './tracing.js'
export type { TracedOperation } from './tracing.js'
export { createJsonLogger, silentLogger } from './logger.js'
export type { JsonLoggerOptions, LogLevel, Logger } from './logger.js'
export { redactingLogger, redactString } from './redacting-logger.js'
