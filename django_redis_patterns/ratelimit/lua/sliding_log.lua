-- Sliding log: a sorted set of hit times; exact (never more than limit in any window).
-- KEYS[i]   zset of hit times (µs) of rate i; every KEYS entry shares one {hash tag}
-- ARGV[1]   "1" = hit (count when every rate allows), "0" = peek (count nothing)
-- ARGV[2]   cost (integer >= 1): that many entries are added
-- ARGV[3i], ARGV[3i+1], ARGV[3i+2]   rate i: limit, period (µs), unused (0)
-- reply     {allowed, now_us, remaining_1, retry_after_us_1, reset_after_us_1, ...}
-- A hit at time s counts while s > now - period.
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local hit = ARGV[1] == '1'
local cost = tonumber(ARGV[2])
local allowed = 1
local reply = {0, now}
local counts = {}
for i = 1, #KEYS do
  local limit = tonumber(ARGV[3 * i])
  local period = tonumber(ARGV[3 * i + 1])
  redis.call('ZREMRANGEBYSCORE', KEYS[i], '-inf', now - period)
  local c = redis.call('ZCARD', KEYS[i])
  counts[i] = c
  local remaining, retry, reset = limit - c, 0, 0
  -- a granted hit's reset is a full period (set below); otherwise the newest entry decides
  if c > 0 and not (hit and c + cost <= limit) then
    local newest = redis.call('ZRANGE', KEYS[i], -1, -1, 'WITHSCORES')
    reset = tonumber(newest[2]) + period - now
  end
  if c + cost <= limit then
    if hit then remaining = limit - c - cost end
  else
    allowed = 0
    if remaining < 0 then remaining = 0 end
    -- the (c + cost - limit)-th oldest hit must leave the window first
    local oldest = redis.call('ZRANGE', KEYS[i], c + cost - limit - 1, c + cost - limit - 1, 'WITHSCORES')
    retry = tonumber(oldest[2]) + period - now
    if retry < 1 then retry = 1 end
  end
  reply[3 * i] = remaining
  reply[3 * i + 1] = retry
  reply[3 * i + 2] = reset
end
reply[1] = allowed
if allowed == 0 and hit then
  -- nothing is counted: report each rate's real reset (skipped above for rates that allowed)
  for i = 1, #KEYS do
    if counts[i] > 0 and reply[3 * i + 2] == 0 then
      local newest = redis.call('ZRANGE', KEYS[i], -1, -1, 'WITHSCORES')
      reply[3 * i + 2] = tonumber(newest[2]) + tonumber(ARGV[3 * i + 1]) - now
    end
  end
end
if allowed == 1 and hit then
  local score = string.format('%.0f', now)
  for i = 1, #KEYS do
    local period = tonumber(ARGV[3 * i + 1])
    for j = 1, cost do
      redis.call('ZADD', KEYS[i], score, score .. ':' .. (counts[i] + j))
    end
    redis.call('PEXPIRE', KEYS[i], math.ceil(period / 1000) + 1)
    reply[3 * i + 2] = period
  end
end
return reply
