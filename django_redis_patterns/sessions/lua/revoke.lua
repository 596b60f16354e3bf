-- Revoke sessions of one user: tombstone them, atomically in the index's slot (the caller
-- then deletes the session keys, then their index entries: the index stays a superset).
-- KEYS[1]  sorted set of the user's sessions
-- KEYS[2]  hash of the user's sessions
-- KEYS[3]  tombstones (member: session key, score: tombstone expiry ms)
-- KEYS[4]  rotations (field: old key of a cycle_key, value: the new key)
-- ARGV[1]  tombstone lifetime in ms
-- ARGV[2]  "all": every session in the index (plus ARGV[4..]); "some": ARGV[4..] only
-- ARGV[3]  session key never revoked ("" for none)
-- ARGV[4..] session keys to revoke
-- reply    the revoked keys, rotations followed (a key rotated to another by cycle_key
--          takes its new key with it)
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local until_ms = now + tonumber(ARGV[1])
local keep = ARGV[3]

local queue = {}
if ARGV[2] == 'all' then
  queue = redis.call('ZRANGE', KEYS[1], 0, -1)
end
for i = 4, #ARGV do
  queue[#queue + 1] = ARGV[i]
end

local seen, revoked = {}, {}
local i = 1
while i <= #queue do
  local key = queue[i]
  if key ~= keep and not seen[key] then
    seen[key] = true
    revoked[#revoked + 1] = key
    local rotated = redis.call('HGET', KEYS[4], key)
    if rotated then
      queue[#queue + 1] = rotated
    end
  end
  i = i + 1
end

redis.call('ZREMRANGEBYSCORE', KEYS[3], '-inf', now)
for j = 1, #revoked, 500 do
  local last = math.min(j + 499, #revoked)
  local scored = {}
  for k = j, last do
    scored[#scored + 1] = until_ms
    scored[#scored + 1] = revoked[k]
  end
  redis.call('ZADD', KEYS[3], unpack(scored))
  redis.call('HDEL', KEYS[4], unpack(revoked, j, last))
end
if #revoked > 0 and redis.call('PTTL', KEYS[3]) < tonumber(ARGV[1]) then
  redis.call('PEXPIRE', KEYS[3], tonumber(ARGV[1]))
end
return revoked
