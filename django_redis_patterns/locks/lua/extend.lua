-- Extend a lock only if the caller still holds it.
-- KEYS[1]  the lock (value "token|acquired_at_ms|renewals|ttl_ms|host|pid|argv")
-- ARGV[1]  token; ARGV[2] new TTL in ms; ARGV[3] "max": never shorten (keep the current PTTL
--          when it is longer), else set exactly; ARGV[4] 1 to count this as a renewal
-- reply    the TTL now set (ms), or 0 when the lock is not held with this token
local value = redis.call('GET', KEYS[1])
if not value or string.sub(value, 1, #ARGV[1] + 1) ~= ARGV[1] .. '|' then
  return 0
end
local ms = tonumber(ARGV[2])
if ARGV[3] == 'max' then
  local left = redis.call('PTTL', KEYS[1])
  if left > ms then ms = left end
end
if ARGV[4] == '1' then
  -- Count the renewal in the value's 3rd field (for `redis_locks show`).
  local head, renewals, rest = string.match(value, '^([^|]*|[^|]*)|([^|]*)|(.*)$')
  redis.call('SET', KEYS[1], head .. '|' .. (tonumber(renewals) + 1) .. '|' .. rest, 'PX', ms)
else
  redis.call('PEXPIRE', KEYS[1], ms)
end
return ms
