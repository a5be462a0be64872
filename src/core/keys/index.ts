export {
  createKeySpace,
  escapeGlob,
  type KeyPart,
  type KeySpace,
  type KeySpaceOptions,
  type ParsedKey,
} from './key-space.js'
export { CLUSTER_SLOTS, crc16, slotOf } from './slot.js'
