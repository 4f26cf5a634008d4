import { describeStoreConformance } from '../conformance.js'
import { memoryStore } from './memory-store.js'

describeStoreConformance('memory', () => memoryStore())
