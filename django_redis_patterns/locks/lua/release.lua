-- Release a lock only if the caller still holds it, and wake one waiter.
-- KEYS[1]  the lock; KEYS[2] the owner metadata hash; KEYS[3] the wake-up list waiters BLPOP on
-- ARGV[1]  token; ARGV[2] how long (ms) an unclaimed wake-up stays in the list;
--          ARGV[3] "force": delete whoever holds it (the redis_locks command), else compare tokens
-- reply    1 when released, 0 when the lock was not held with this token (expired or taken over)
if ARGV[3] ~= 'force' and redis.call('GET', KEYS[1]) ~= ARGV[1] then
  return 0
end
if redis.call('DEL', KEYS[1]) == 0 then
  return 0
end
redis.call('DEL', KEYS[2])
-- At most one pending wake-up: releases with nobody waiting must not pile up entries.
redis.call('DEL', KEYS[3])
redis.call('RPUSH', KEYS[3], 1)
redis.call('PEXPIRE', KEYS[3], ARGV[2])
return 1
