-- Release a lock only if the caller still holds it, and wake one waiter if any is waiting.
-- KEYS[1]  the lock; KEYS[2] the wake-up list waiters BLPOP on; KEYS[3] the "someone is waiting"
--          marker; KEYS[4] the fencing counter
-- ARGV[1]  token; ARGV[2] how long (ms) an unclaimed wake-up stays in the list;
--          ARGV[3] "force": delete whoever holds it (the redis_locks command), else compare tokens;
--          ARGV[4] the hold's fencing token, or "" (Redlock: each node counts on its own)
-- reply    1 when released; 0 when the lock was not held with this token (expired or taken
--          over); 2 when the lock is already gone but the fencing counter still names this hold,
--          so nobody took it since: a retried release whose first reply was lost (the client
--          decides with its own clock whether the hold had expired meanwhile)
local value = redis.call('GET', KEYS[1])
if not value then
  if ARGV[4] ~= '' and redis.call('GET', KEYS[4]) == ARGV[4] then
    return 2
  end
  return 0
end
if ARGV[3] ~= 'force' and string.sub(value, 1, #ARGV[1] + 1) ~= ARGV[1] .. '|' then
  return 0
end
redis.call('DEL', KEYS[1])
if ARGV[3] == 'force' then
  -- An operator took the lock away: move the counter past the hold, so its own release
  -- reports the loss (reply 0) instead of "already released" (reply 2).
  redis.call('INCR', KEYS[4])
end
if redis.call('EXISTS', KEYS[3]) == 1 then
  -- At most one pending wake-up: releases must not pile up entries nobody pops.
  redis.call('DEL', KEYS[2])
  redis.call('RPUSH', KEYS[2], 1)
  redis.call('PEXPIRE', KEYS[2], ARGV[2])
end
return 1
