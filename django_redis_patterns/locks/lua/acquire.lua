-- Take a lock (SET NX PX) and hand out its fencing token (INCR), in one step.
-- KEYS[1]  the lock; its value is "token|acquired_at_ms|renewals|ttl_ms|host|pid|argv"
--          (the owner metadata rides in the value: no second key to write, expire or delete)
-- KEYS[2]  the fencing counter (never expires; its value is the current holder's token)
-- KEYS[3]  the "someone is waiting" marker. All keys share one {hash tag}.
-- ARGV[1]  token; ARGV[2] ttl in ms; ARGV[3] period in ms (0: none; else the TTL runs to the end
--          of the current period of the Redis clock instead); ARGV[4] "host|pid|argv";
--          ARGV[5] ms to keep the waiting marker when this attempt fails (0: not waiting)
-- reply    {1, fencing token, ttl ms, Redis time ms} when taken (also when it is already held
--          with this token: a retried call whose first reply was lost);
--          {0, PTTL of the lock, the lock's value, the fencing counter} when someone else holds it
local ttl = tonumber(ARGV[2])
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local period = tonumber(ARGV[3])
if period > 0 then
  ttl = period - (now % period)
end
if redis.call('SET', KEYS[1], ARGV[1] .. '|' .. now .. '|0|' .. ttl .. '|' .. ARGV[4], 'NX', 'PX', ttl) then
  return {1, redis.call('INCR', KEYS[2]), ttl, now}
end
local value = redis.call('GET', KEYS[1])
if value and string.sub(value, 1, #ARGV[1] + 1) == ARGV[1] .. '|' then
  -- Held with this attempt's own token: the client retried a call whose reply was lost (a
  -- timeout after Redis ran it). Answer as the first run did, instead of "busy until it expires".
  local at, held = string.match(value, '^[^|]*|(%d+)|%d+|(%d+)|')
  return {1, tonumber(redis.call('GET', KEYS[2])), tonumber(held), tonumber(at)}
end
local marker = tonumber(ARGV[5])
if marker > 0 then
  redis.call('SET', KEYS[3], 1, 'PX', marker)
end
return {0, redis.call('PTTL', KEYS[1]), value, redis.call('GET', KEYS[2])}
