// @killswitch/redis: the kill switch store for fleets. Exports are listed by name.

// Store
export { type RedisStoreOptions, redisStore } from './redis-store.js'
