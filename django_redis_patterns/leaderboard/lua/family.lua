-- Leaderboard write logic shared by write.lua and rebuild.lua: pasted into both where they say
-- "--#include family.lua" (board.py composes them), never called on its own.
-- KEYS     none of its own (the including script's)
-- ARGV     none of its own; expects the including script's locals `dense` (bool) and `LIMIT`
-- reply    none: it only defines functions
--
-- A board family is a board key (the live base key, or a rebuild's copy "<base>:rebuild") with
-- its partition boards (":p:<value>"), the member -> partition hash (":pm"), the partitions in
-- use (":parts") and, for dense ranking, each board's distinct scores (":ds") and members per
-- score (":dn").

local function inc(key, s)
  if redis.call("HINCRBY", key .. ":dn", s, 1) == 1 then redis.call("ZADD", key .. ":ds", s, s) end
end

local function dec(key, s)
  if redis.call("HINCRBY", key .. ":dn", s, -1) <= 0 then
    redis.call("HDEL", key .. ":dn", s)
    redis.call("ZREM", key .. ":ds", s)
  end
end

local function zremove(key, member)
  local old = redis.call("ZSCORE", key, member)
  if old then
    redis.call("ZREM", key, member)
    if dense then dec(key, old) end
  end
  return old
end

local function put(key, member, s) -- plain set of a stored-score string, companions kept
  local old = redis.call("ZSCORE", key, member)
  if old == s then return end
  redis.call("ZADD", key, s, member)
  if dense then
    if old then dec(key, old) end
    inc(key, redis.call("ZSCORE", key, member))
  end
end

local function apply(key, op, member, value)
  if op == "remove" then zremove(key, member) return false end
  local old = redis.call("ZSCORE", key, member)
  local new
  if op == "set" then
    if old == value then return old end
    redis.call("ZADD", key, value, member)
  elseif op == "incr" then
    new = redis.call("ZINCRBY", key, value, member)
  elseif op == "best" then
    if redis.call("ZADD", key, "LT", "CH", value, member) == 0 then return old end
  else
    return redis.error_reply("unknown op " .. op)
  end
  if new == nil then new = redis.call("ZSCORE", key, member) end
  if dense and new ~= old then
    if old then dec(key, old) end
    inc(key, new)
  end
  return new
end

local function expire(key, at)
  redis.call("EXPIREAT", key, at)
  if dense then
    redis.call("EXPIREAT", key .. ":ds", at)
    redis.call("EXPIREAT", key .. ":dn", at)
  end
end

local function check(result)
  if type(result) == "table" and result.err then error(result.err) end
  return result
end

-- Apply one write to a family. cur: {suffix, expire-at} of the current period boards ({} for
-- a rebuild's copy, which has none); gain: period boards get the all-time change (a "gain"
-- board's set). pmode: "-" not partitioned, "k" keep, "n" none, "v<value>". Returns the
-- member's new stored score on the family's board, or false.
local function write(prefix, op, member, value, pmode, cur, gain)
  local keys = {{prefix, nil}}
  for _, p in ipairs(cur) do keys[#keys + 1] = {prefix .. p[1], p[2]} end
  if pmode ~= "-" and (pmode ~= "k" or redis.call("HEXISTS", prefix .. ":pm", member) == 1) then
    local old_part = redis.call("HGET", prefix .. ":pm", member)
    local new_part
    if pmode == "k" then new_part = old_part
    elseif pmode == "n" then new_part = false
    else new_part = string.sub(pmode, 2) end
    if op == "remove" then new_part = false end
    if old_part ~= new_part then
      local suffixes = {{"", nil}}
      for _, p in ipairs(cur) do suffixes[#suffixes + 1] = p end
      for _, sfx in ipairs(suffixes) do
        local s = false
        if old_part then s = zremove(prefix .. ":p:" .. old_part .. sfx[1], member) end
        -- moving keeps the score earned so far; the op below then applies to it
        if new_part and s then
          put(prefix .. ":p:" .. new_part .. sfx[1], member, s)
        end
      end
      if new_part then
        redis.call("HSET", prefix .. ":pm", member, new_part)
        redis.call("SADD", prefix .. ":parts", new_part)
      else
        redis.call("HDEL", prefix .. ":pm", member)
      end
    end
    if new_part then
      keys[#keys + 1] = {prefix .. ":p:" .. new_part, nil}
      for _, p in ipairs(cur) do keys[#keys + 1] = {prefix .. ":p:" .. new_part .. p[1], p[2]} end
    end
  end
  if op == "incr" then -- refuse before writing anything, so a refused increment changes nothing
    for _, k in ipairs(keys) do
      local result = tonumber(redis.call("ZSCORE", k[1], member) or "0") + tonumber(value)
      if result > LIMIT or result < -LIMIT then
        error("LEADERBOARD score of " .. member .. " would leave the exact range +-2^53")
      end
    end
  end
  local reply = false
  local old_all = redis.call("ZSCORE", prefix, member)
  local delta = nil
  for i, k in ipairs(keys) do
    if gain and k[2] then
      -- period board of a "gain" board: add how much the all-time score just moved
      if delta ~= 0 then
        local before = redis.call("ZSCORE", k[1], member)
        local after = redis.call("ZINCRBY", k[1], string.format("%.17g", delta), member)
        if dense and after ~= before then
          if before then dec(k[1], before) end
          inc(k[1], after)
        end
        expire(k[1], k[2])
      end
    else
      local r = check(apply(k[1], op, member, value))
      if i == 1 then
        reply = r
        delta = tonumber(r or "0") - tonumber(old_all or "0")
      end
      if k[2] and op ~= "remove" then expire(k[1], k[2]) end
    end
  end
  return reply
end

-- While a rebuild loads rows into its copy <tmp>, live writes are mirrored there, and
-- "<tmp>:w" records each member written since the rebuild began, so that no row the rebuild
-- read earlier can undo a later write:
--   "="          the copy holds the member's final state (a set, a remove, or a write that
--                moves it between partitions): its row, if the rebuild loads it later, is skipped;
--   a JSON log   relative writes (incr, best) made before its row was loaded: they are applied
--                on top of the row when it is loaded (replay), or from nothing at the swap if
--                the rebuild never loads one.
-- A member whose row is loaded already and has no entry takes relative writes directly.
local COPY_TTL = 660

local function mirror(tmp, op, member, value, pmode)
  local wkey = tmp .. ":w"
  local state = redis.call("HGET", wkey, member)
  local relative = (op == "incr" or op == "best") and (pmode == "k" or pmode == "-")
  if state == "=" or not relative then
    check(write(tmp, op, member, value, pmode, {}, false))
    redis.call("HSET", wkey, member, "=")
  elseif not state and redis.call("ZSCORE", tmp, member) then
    check(write(tmp, op, member, value, pmode, {}, false))
    return
  else
    local log = {}
    if state then log = cjson.decode(state) end
    log[#log + 1] = {op, value, pmode}
    redis.call("HSET", wkey, member, cjson.encode(log))
  end
  if redis.call("TTL", wkey) < 0 then redis.call("EXPIRE", wkey, COPY_TTL) end
end

local function replay(tmp, member, state)
  for _, e in ipairs(cjson.decode(state)) do check(write(tmp, e[1], member, e[2], e[3], {}, false)) end
  redis.call("HDEL", tmp .. ":w", member)
end
