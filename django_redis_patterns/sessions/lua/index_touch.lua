-- Add or refresh one session in a user's index, pruning long-expired entries.
-- KEYS[1]  sorted set of the user's sessions (member: session key, score: expiry ms)
-- KEYS[2]  hash of the user's sessions (field: session key, value: "created\tseen\tip\tua")
-- ARGV[1]  session key
-- ARGV[2]  session TTL in ms
-- ARGV[3]  client IP ("" keeps the stored one)
-- ARGV[4]  user agent ("" keeps the stored one)
-- ARGV[5]  grace in ms: entries whose expiry is older than now - grace are pruned
-- ARGV[6]  session key this one replaces (cycle_key: keeps created/ip/ua), or ""
-- reply    now in ms (Redis TIME), which the caller records in the session's header
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local ttl = tonumber(ARGV[2])
local grace = tonumber(ARGV[5])

local dead = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', now - grace)
for i = 1, #dead, 500 do
  redis.call('HDEL', KEYS[2], unpack(dead, i, math.min(i + 499, #dead)))
end
if #dead > 0 then
  redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - grace)
end

local meta = redis.call('HGET', KEYS[2], ARGV[1])
if not meta and ARGV[6] ~= '' then
  meta = redis.call('HGET', KEYS[2], ARGV[6])
end
local created, ip, ua = now, '', ''
if meta then
  local c, _, i, u = string.match(meta, '^([^\t]*)\t([^\t]*)\t([^\t]*)\t(.*)$')
  if c then
    created, ip, ua = c, i, u
  end
end
if ARGV[3] ~= '' then ip = ARGV[3] end
if ARGV[4] ~= '' then ua = ARGV[4] end
redis.call('HSET', KEYS[2], ARGV[1], created .. '\t' .. now .. '\t' .. ip .. '\t' .. ua)
redis.call('ZADD', KEYS[1], now + ttl, ARGV[1])

-- The index lives as long as its longest-lived session (plus the grace).
local last = redis.call('ZRANGE', KEYS[1], -1, -1, 'WITHSCORES')
local keep = tonumber(last[2]) - now + grace
redis.call('PEXPIRE', KEYS[1], keep)
redis.call('PEXPIRE', KEYS[2], keep)
return now
