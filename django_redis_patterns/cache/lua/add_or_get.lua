-- Add a value unless the key exists; if it does, return the value that was there first.
-- KEYS[1]  the cache key
-- ARGV[1]  encoded value; ARGV[2] TTL in ms, 0 for none
-- reply    nil when this value was added, else the existing value
-- (`SET NX GET` does this in one command, but only on Redis >= 7.0; this works on 6.2 too.)
local added
if ARGV[2] == '0' then
  added = redis.call('SET', KEYS[1], ARGV[1], 'NX')
else
  added = redis.call('SET', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2])
end
if added then
  return false
end
return redis.call('GET', KEYS[1])
