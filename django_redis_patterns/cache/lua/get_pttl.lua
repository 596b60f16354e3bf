-- KEYS[1]  the cache key
-- ARGV     none
-- reply    {value or nil, milliseconds left (-1: no expiry, -2: missing)} read atomically
return {redis.call('GET', KEYS[1]), redis.call('PTTL', KEYS[1])}
