-- Take a lock and hand out its fencing token, in one step.
-- KEYS[1]  the lock (string: the holder's token), KEYS[2] the fencing counter (never expires),
--          KEYS[3] the owner metadata hash (same TTL as the lock); all share one {hash tag}
-- ARGV[1]  token; ARGV[2] ttl in ms; ARGV[3] period in ms (0: none; else the TTL runs to the end
--          of the current period of the Redis clock instead); ARGV[4] host; ARGV[5] pid;
--          ARGV[6] command line
-- reply    {1, fencing token, ttl ms, Redis time ms} when taken;
--          {0, PTTL of the lock, owner field, value, ...} when someone else holds it
local ttl = tonumber(ARGV[2])
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local period = tonumber(ARGV[3])
if period > 0 then
  ttl = period - (now % period)
end
if redis.call('SET', KEYS[1], ARGV[1], 'NX', 'PX', ttl) then
  local fence = redis.call('INCR', KEYS[2])
  redis.call('DEL', KEYS[3])
  redis.call('HSET', KEYS[3], 'host', ARGV[4], 'pid', ARGV[5], 'argv', ARGV[6], 'acquired_at', now,
    'renewals', 0, 'fence', fence, 'ttl', ttl)
  redis.call('PEXPIRE', KEYS[3], ttl)
  return {1, fence, ttl, now}
end
local reply = {0, redis.call('PTTL', KEYS[1])}
for _, v in ipairs(redis.call('HGETALL', KEYS[3])) do reply[#reply + 1] = v end
return reply
