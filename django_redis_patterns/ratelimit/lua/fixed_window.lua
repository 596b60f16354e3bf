-- Fixed window: a counter per window; the window start may be offset per key (staggered).
-- KEYS[i]   string "<window number>:<count>" of rate i; every KEYS entry shares one {hash tag}
-- ARGV[1]   "1" = hit (count when every rate allows), "0" = peek (count nothing)
-- ARGV[2]   cost (integer >= 1)
-- ARGV[3i], ARGV[3i+1], ARGV[3i+2]   rate i: limit, period (µs), offset of the window start (µs)
-- reply     {allowed, now_us, remaining_1, retry_after_us_1, reset_after_us_1, ...}
-- The stored window number (not only the key's TTL) decides when a count is stale, so a
-- script that runs just as the key expires cannot add to the previous window.
-- Window numbers are joined with `..` (Lua's %.14g): exact, as periods are >= 1 ms (rates.py).
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local hit = ARGV[1] == '1'
local cost = tonumber(ARGV[2])
local allowed = 1
local reply = {0, now}
local windows, counts, ends = {}, {}, {}
for i = 1, #KEYS do
  local limit = tonumber(ARGV[3 * i])
  local period = tonumber(ARGV[3 * i + 1])
  local offset = tonumber(ARGV[3 * i + 2])
  local w = math.floor((now - offset) / period)
  local wend = (w + 1) * period + offset
  local c = 0
  local v = redis.call('GET', KEYS[i])
  if v then
    local sw, sc = string.match(v, '^(%d+):(%d+)$')
    if tonumber(sw) == w then c = tonumber(sc) end
  end
  windows[i] = w
  counts[i] = c + cost
  ends[i] = wend
  local remaining, retry
  if c + cost <= limit then
    retry = 0
    if hit then remaining = limit - c - cost else remaining = limit - c end
  else
    allowed = 0
    remaining = limit - c
    if remaining < 0 then remaining = 0 end
    retry = wend - now
  end
  reply[3 * i] = remaining
  reply[3 * i + 1] = retry
  reply[3 * i + 2] = wend - now
end
reply[1] = allowed
if allowed == 1 and hit then
  for i = 1, #KEYS do
    redis.call('SET', KEYS[i], windows[i] .. ':' .. counts[i], 'PX', math.ceil((ends[i] - now) / 1000) + 1)
  end
end
return reply
