-- KEYS[1]  the cache key (must exist: Django's incr() raises ValueError on a missing key)
-- ARGV[1]  delta, an integer
-- reply    the new value (as its digits); nil when the key is missing; {error text} when the value is not an integer
if redis.call('EXISTS', KEYS[1]) == 0 then
  return false
end
local r = redis.pcall('INCRBY', KEYS[1], ARGV[1])
if type(r) == 'table' and r.err then
  return {r.err}
end
-- The stored digits, not r: an integer reply becomes a Lua number (a double) here, which
-- would return a wrong value above 2^53.
return redis.call('GET', KEYS[1])
