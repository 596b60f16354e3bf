-- Sliding window counter: the current window's count plus the previous one's, weighted by
-- how much of the previous window still overlaps the sliding window ending now.
-- KEYS[i]   string "<window number>:<count in it>:<count in the one before>"; KEYS share one {hash tag}
-- ARGV[1]   "1" = hit (count when every rate allows), "0" = peek (count nothing)
-- ARGV[2]   cost (integer >= 1)
-- ARGV[3i], ARGV[3i+1], ARGV[3i+2]   rate i: limit, period (µs), unused (0)
-- reply     {allowed, now_us, remaining_1, retry_after_us_1, reset_after_us_1, ...}
-- Window numbers are joined with `..` (Lua's %.14g): exact, as periods are >= 1 ms (rates.py).
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local hit = ARGV[1] == '1'
local cost = tonumber(ARGV[2])
local allowed = 1
local reply = {0, now}
local state = {}
for i = 1, #KEYS do
  local limit = tonumber(ARGV[3 * i])
  local period = tonumber(ARGV[3 * i + 1])
  local w = math.floor(now / period)
  local c, p = 0, 0
  local v = redis.call('GET', KEYS[i])
  if v then
    local sw, sc, sp = string.match(v, '^(%d+):(%d+):(%d+)$')
    sw = tonumber(sw)
    if sw == w then
      c, p = tonumber(sc), tonumber(sp)
    elseif sw == w - 1 then
      p = tonumber(sc)
    end
  end
  local start = w * period
  local weight = (period - (now - start)) / period
  local estimate = p * weight + c
  state[i] = {w, c, p}
  local remaining, retry, reset
  if estimate + cost <= limit then
    retry = 0
    if hit then remaining = math.floor(limit - estimate - cost) else remaining = math.floor(limit - estimate) end
    if hit then c = c + cost end
  else
    allowed = 0
    remaining = math.floor(limit - estimate)
    if remaining < 0 then remaining = 0 end
    if c + cost > limit then
      -- wait into the next window, where this window's count becomes the weighted one
      retry = start + period + math.ceil(period * (1 - (limit - cost) / c)) - now
    else
      retry = start + math.ceil(period * (1 - (limit - c - cost) / p)) - now
    end
    if retry < 1 then retry = 1 end
  end
  if c > 0 then reset = start + 2 * period - now elseif p > 0 then reset = start + period - now else reset = 0 end
  reply[3 * i] = remaining
  reply[3 * i + 1] = retry
  reply[3 * i + 2] = reset
end
reply[1] = allowed
if allowed == 1 and hit then
  for i = 1, #KEYS do
    local period = tonumber(ARGV[3 * i + 1])
    local s = state[i]
    redis.call('SET', KEYS[i], s[1] .. ':' .. (s[2] + cost) .. ':' .. s[3], 'PX', math.ceil(2 * period / 1000) + 1)
  end
end
return reply
