-- incr/decr past Redis's 64-bit integers: Python computed the new value from the one it read;
-- write it only if the key still holds that value (compare-and-set), keeping the TTL.
-- KEYS[1]  the cache key
-- ARGV[1]  the value read
-- ARGV[2]  the new value
-- reply    1 when written, 0 when the value changed (or vanished) since it was read
if redis.call('GET', KEYS[1]) ~= ARGV[1] then
  return 0
end
redis.call('SET', KEYS[1], ARGV[2], 'KEEPTTL')
return 1
