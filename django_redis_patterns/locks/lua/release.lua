-- Release a lock only if the caller still holds it, and wake one waiter if any is waiting.
-- KEYS[1]  the lock; KEYS[2] the wake-up list waiters BLPOP on; KEYS[3] the "someone is waiting" marker
-- ARGV[1]  token; ARGV[2] how long (ms) an unclaimed wake-up stays in the list;
--          ARGV[3] "force": delete whoever holds it (the redis_locks command), else compare tokens
-- reply    1 when released, 0 when the lock was not held with this token (expired or taken over)
local value = redis.call('GET', KEYS[1])
if not value then
  return 0
end
if ARGV[3] ~= 'force' and string.sub(value, 1, #ARGV[1] + 1) ~= ARGV[1] .. '|' then
  return 0
end
redis.call('DEL', KEYS[1])
if redis.call('EXISTS', KEYS[3]) == 1 then
  -- At most one pending wake-up: releases must not pile up entries nobody pops.
  redis.call('DEL', KEYS[2])
  redis.call('RPUSH', KEYS[2], 1)
  redis.call('PEXPIRE', KEYS[2], ARGV[2])
end
return 1
