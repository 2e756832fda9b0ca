/** The cache's writer lock lives in src/lock.ts, shared with the vector index; hub code imports it from here. */
export { acquireLock, exclusive, LOCK_SUFFIX, lockOwnerPid, tryAcquireLock } from '../lock.js';
