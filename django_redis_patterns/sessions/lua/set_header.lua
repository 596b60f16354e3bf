-- Rewrite a session's header line (what its user's index knows), keeping data and TTL.
-- KEYS[1]  the session key
-- ARGV[1]  the new header line, without its newline
-- reply    1 if rewritten; 0 if the session is gone (never recreated) or not in our format
local value = redis.call('GET', KEYS[1])
if not value then
  return 0
end
local newline = string.find(value, '\n', 1, true)
if not newline then
  return 0
end
redis.call('SET', KEYS[1], ARGV[1] .. string.sub(value, newline), 'KEEPTTL')
return 1
