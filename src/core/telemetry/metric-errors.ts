import { ValkitError } from '../errors.js'

/** @internal */
export function unlabelled(name: string): ValkitError {
  return new ValkitError(
    'VALKIT_INVALID_ARGUMENT',
    `Metric ${name} has no labels; call it directly, not labels().`,
  )
}

/** @internal */
export function labelled(name: string): ValkitError {
  return new ValkitError(
    'VALKIT_INVALID_ARGUMENT',
    `Metric ${name} has labels; use labels({...}) to reach a series.`,
  )
}
