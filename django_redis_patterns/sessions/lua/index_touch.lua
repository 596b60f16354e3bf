-- Add or refresh one session in a user's index, pruning long-expired entries.
-- KEYS[1]  sorted set of the user's sessions (member: session key, score: expiry ms)
-- KEYS[2]  hash of the user's sessions (field: session key, value: "created\tseen\tip\tua")
-- KEYS[3]  tombstones of revoked sessions (member: session key, score: tombstone expiry ms)
-- KEYS[4]  rotations (field: old key of a cycle_key, value: the new key)
-- ARGV[1]  session key
-- ARGV[2]  session TTL in ms
-- ARGV[3]  client IP ("" keeps the stored one)
-- ARGV[4]  user agent ("" keeps the stored one)
-- ARGV[5]  grace in ms: entries whose expiry is older than now - grace are pruned
-- ARGV[6]  session key this one replaces (cycle_key: keeps created/ip/ua), or ""
-- reply    now in ms (Redis TIME), which the caller records in the session's header;
--          -1 when ARGV[1] or ARGV[6] was revoked: nothing is written, the session must not live on
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local ttl = tonumber(ARGV[2])
local grace = tonumber(ARGV[5])

-- Checked here, in the index's slot where revocations are written, so a revocation and a
-- cycle_key are ordered: either this rotation is recorded first (and the revocation
-- follows it to the new key), or the revocation is, and the rotation is refused.
redis.call('ZREMRANGEBYSCORE', KEYS[3], '-inf', now)
if redis.call('ZSCORE', KEYS[3], ARGV[1]) or (ARGV[6] ~= '' and redis.call('ZSCORE', KEYS[3], ARGV[6])) then
  return -1
end
if ARGV[6] ~= '' then
  redis.call('HSET', KEYS[4], ARGV[6], ARGV[1])
end

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
if ARGV[6] ~= '' then
  -- a rotation is kept while its new key may be live; rotations to dead keys are dropped
  local rotations = redis.call('HGETALL', KEYS[4])
  for i = 1, #rotations, 2 do
    if not redis.call('ZSCORE', KEYS[1], rotations[i + 1]) then
      redis.call('HDEL', KEYS[4], rotations[i])
    end
  end
  redis.call('PEXPIRE', KEYS[4], keep)
end
return now
