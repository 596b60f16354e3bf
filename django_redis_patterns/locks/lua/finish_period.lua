-- Slot mode, job done: keep the lock as "this period ran" until the period ends (Redis clock),
-- or delete it when the period is already over (the job overran it).
-- KEYS[1]  the lock
-- ARGV[1]  token; ARGV[2] end of the period the lock was taken in (Unix ms, Redis clock)
-- reply    1 when done, 0 when the lock was not held with this token
local value = redis.call('GET', KEYS[1])
if not value or string.sub(value, 1, #ARGV[1] + 1) ~= ARGV[1] .. '|' then
  return 0
end
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
if now >= tonumber(ARGV[2]) then
  redis.call('DEL', KEYS[1])
else
  redis.call('PEXPIREAT', KEYS[1], ARGV[2])
end
return 1
