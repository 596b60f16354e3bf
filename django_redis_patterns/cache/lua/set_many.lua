-- KEYS     the cache keys (one slot on Cluster)
-- ARGV[1]  time to live in milliseconds, shared by every key
-- ARGV[2..] the encoded values, in the order of KEYS
-- reply    the number of keys written
local ttl = ARGV[1]
for i = 1, #KEYS do
  redis.call('SET', KEYS[i], ARGV[i + 1], 'PX', ttl)
end
return #KEYS
