-- GCRA (generic cell rate algorithm): one key per rate holding the theoretical arrival time.
-- KEYS[i]   TAT (integer µs) of rate i; every KEYS entry shares one {hash tag}
-- ARGV[1]   "1" = hit (count when every rate allows), "0" = peek (count nothing)
-- ARGV[2]   cost (integer >= 1)
-- ARGV[3i], ARGV[3i+1], ARGV[3i+2]   rate i: limit, period (µs), burst
-- reply     {allowed, now_us, remaining_1, retry_after_us_1, reset_after_us_1, ...}
-- Clock: Redis TIME. The emission interval is period/limit rounded UP to a whole µs, so all
-- arithmetic is exact integers and the rate is never exceeded by rounding. Numbers go to
-- redis.call as they are (Redis prints them with %.17g: exact below 2^53); string.format
-- would cost about 2 µs a call.
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local hit = ARGV[1] == '1'
local cost = tonumber(ARGV[2])
local allowed = 1
local reply = {0, now}
local tats = {}
for i = 1, #KEYS do
  local limit = tonumber(ARGV[3 * i])
  local period = tonumber(ARGV[3 * i + 1])
  local burst = tonumber(ARGV[3 * i + 2])
  local e = math.ceil(period / limit)
  local tat = tonumber(redis.call('GET', KEYS[i]) or now)
  if tat < now then tat = now end
  local new_tat = tat + cost * e
  local allow_at = new_tat - burst * e
  local remaining, retry, reset
  if allow_at <= now then
    tats[i] = new_tat
    if hit then
      remaining = math.floor((now + burst * e - new_tat) / e)
      reset = new_tat - now
    else
      remaining = math.floor((now + burst * e - tat) / e)
      reset = tat - now
    end
    retry = 0
  else
    allowed = 0
    remaining = math.floor((now + burst * e - tat) / e)
    if remaining < 0 then remaining = 0 end
    retry = allow_at - now
    reset = tat - now
  end
  reply[3 * i] = remaining
  reply[3 * i + 1] = retry
  reply[3 * i + 2] = reset
end
reply[1] = allowed
if allowed == 1 and hit then
  for i = 1, #KEYS do
    redis.call('SET', KEYS[i], tats[i], 'PX', math.ceil((tats[i] - now) / 1000) + 1)
  end
end
return reply
