-- KEYS[1]  a key to read (may not exist)
-- ARGV[1]  a value echoed back
-- reply    {ARGV[1], value of KEYS[1] or false}
-- A trivial script the connection tests and redis_status use to prove the registry works.
return {ARGV[1], redis.call('GET', KEYS[1])}
