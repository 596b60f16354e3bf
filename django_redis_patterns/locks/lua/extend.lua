-- Extend a lock only if the caller still holds it.
-- KEYS[1]  the lock; KEYS[2] the owner metadata hash
-- ARGV[1]  token; ARGV[2] new TTL in ms; ARGV[3] "max": never shorten (keep the current PTTL
--          when it is longer), else set exactly; ARGV[4] 1 to count this as a renewal
-- reply    the TTL now set (ms), or 0 when the lock is not held with this token
if redis.call('GET', KEYS[1]) ~= ARGV[1] then
  return 0
end
local ms = tonumber(ARGV[2])
if ARGV[3] == 'max' then
  local left = redis.call('PTTL', KEYS[1])
  if left > ms then ms = left end
end
redis.call('PEXPIRE', KEYS[1], ms)
if redis.call('EXISTS', KEYS[2]) == 1 then
  if ARGV[4] == '1' then redis.call('HINCRBY', KEYS[2], 'renewals', 1) end
  redis.call('PEXPIRE', KEYS[2], ms)
end
return ms
