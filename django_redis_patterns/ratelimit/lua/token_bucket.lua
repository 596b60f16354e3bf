-- Token bucket: `limit` tokens, refilled continuously at limit/period; a hit takes `cost`.
-- KEYS[i]   string "<tokens>:<time of tokens, µs>" of rate i; every KEYS entry shares one {hash tag}
-- ARGV[1]   "1" = hit (count when every rate allows), "0" = peek (count nothing)
-- ARGV[2]   cost (integer >= 1)
-- ARGV[3i], ARGV[3i+1], ARGV[3i+2]   rate i: limit (capacity), period (µs), unused (0)
-- reply     {allowed, now_us, remaining_1, retry_after_us_1, reset_after_us_1, ...}
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local hit = ARGV[1] == '1'
local cost = tonumber(ARGV[2])
local allowed = 1
local reply = {0, now}
local tokens = {}
for i = 1, #KEYS do
  local limit = tonumber(ARGV[3 * i])
  local period = tonumber(ARGV[3 * i + 1])
  local k = limit
  -- µs from now until `cost` tokens are there. Decided from the stored state alone, in whole
  -- µs, so every caller sees the same moment: a refused hit told "retry in r" is never
  -- followed by an allowed one before r (the float count, recomputed per call, could round
  -- either way).
  local wait = math.ceil((cost - limit) * period / limit)
  local v = redis.call('GET', KEYS[i])
  if v then
    local sk, st = string.match(v, '^([^:]+):(%d+)$')
    sk, st = tonumber(sk), tonumber(st)
    k = sk + math.max(0, now - st) * limit / period
    if k > limit then k = limit end
    if cost <= limit then wait = st + math.ceil((cost - sk) * period / limit) - now end
  end
  local remaining, retry
  if wait <= 0 then
    retry = 0
    if hit then k = math.max(k - cost, 0) end
    remaining = math.floor(k)
  else
    allowed = 0
    remaining = math.floor(k)
    retry = wait
  end
  tokens[i] = k
  reply[3 * i] = remaining
  reply[3 * i + 1] = retry
  reply[3 * i + 2] = math.ceil((limit - k) * period / limit)
end
reply[1] = allowed
if allowed == 1 and hit then
  for i = 1, #KEYS do
    local limit = tonumber(ARGV[3 * i])
    local period = tonumber(ARGV[3 * i + 1])
    redis.call('SET', KEYS[i], string.format('%.17g:%.0f', tokens[i], now),
      'PX', math.ceil((limit - tokens[i]) * period / limit / 1000) + 1)
  end
end
return reply
