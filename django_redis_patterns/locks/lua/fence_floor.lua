-- Raise a fencing counter to at least a value (Redlock: keeps tokens increasing across nodes).
-- KEYS[1]  the fencing counter
-- ARGV[1]  the floor
-- reply    the counter's value afterwards
local cur = tonumber(redis.call('GET', KEYS[1]) or '0')
local floor = tonumber(ARGV[1])
if cur < floor then
  redis.call('SET', KEYS[1], floor)
  return floor
end
return cur
