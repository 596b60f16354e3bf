-- KEYS[1]  a stampede recompute lock
-- ARGV[1]  the token its holder set
-- reply    1 when released, 0 when it was not (or no longer) ours
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0
