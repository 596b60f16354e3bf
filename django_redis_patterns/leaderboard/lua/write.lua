-- Leaderboard write: one member on the all-time board, its partition board and the current
-- period boards, with the dense-rank companions, in one atomic step.
-- KEYS[1]  board base key, e.g. "lb:{scores}"; every other key is derived from it (same slot)
-- ARGV[1]  op: "set" | "incr" | "best" | "remove"
-- ARGV[2]  member
-- ARGV[3]  stored value: score for set/best, delta for incr (negated on descending boards)
-- ARGV[4]  "1" to keep the distinct-score companions (dense ranking)
-- ARGV[5]  periods: comma-separated subset of daily,weekly,monthly ("" for none)
-- ARGV[6]  unix seconds choosing the periods ("" = Redis TIME)
-- ARGV[7]  retain: how many finished periods stay readable before they expire
-- ARGV[8]  partition: "-" board not partitioned, "k" keep the member's current one, "n" none,
--          "v<value>" this value
-- ARGV[9]  period scores: "gain" (a set adds the all-time change to the period boards) or
--          "same" (period boards get the same operation as the all-time board)
-- reply    the member's new stored score as a string, or false (removed / absent)
--
-- Stored scores always sort ascending (descending boards store -score), so ZRANGE order is
-- rank order for both board orders, and "better" is always "lower": best = ZADD LT.
-- Numbers are never formatted by Lua (its %.14g loses digits): values go to Redis as the
-- strings Python sent, increments through ZINCRBY.
local base = KEYS[1]
local op, member, value = ARGV[1], ARGV[2], ARGV[3]
local dense = ARGV[4] == "1"
local periods = ARGV[5]
local retain = tonumber(ARGV[7])
local pmode = ARGV[8]
local gain = ARGV[9] == "gain" and op == "set"
local LIMIT = 9007199254740992

local function civil(days) -- days since epoch -> y, m, d (proleptic Gregorian, H. Hinnant)
  local z = days + 719468
  local era = math.floor(z / 146097)
  local doe = z - era * 146097
  local yoe = math.floor((doe - math.floor(doe / 1460) + math.floor(doe / 36524) - math.floor(doe / 146096)) / 365)
  local y = yoe + era * 400
  local doy = doe - (365 * yoe + math.floor(yoe / 4) - math.floor(yoe / 100))
  local mp = math.floor((5 * doy + 2) / 153)
  local d = doy - math.floor((153 * mp + 2) / 5) + 1
  local m = mp < 10 and mp + 3 or mp - 9
  if m <= 2 then y = y + 1 end
  return y, m, d
end

local function days_from_civil(y, m, d)
  if m <= 2 then y = y - 1 end
  local era = math.floor(y / 400)
  local yoe = y - era * 400
  local mp = m > 2 and m - 3 or m + 9
  local doy = math.floor((153 * mp + 2) / 5) + d - 1
  local doe = yoe * 365 + math.floor(yoe / 4) - math.floor(yoe / 100) + doy
  return era * 146097 + doe - 719468
end

-- {suffix, expire-at} of each configured period containing time t
local function current_periods(t)
  local out = {}
  if periods == "" then return out end
  local days = math.floor(t / 86400)
  for kind in string.gmatch(periods, "[^,]+") do
    local start, stop
    if kind == "daily" then
      start, stop = days, days + 1
    elseif kind == "weekly" then
      start = days - (days + 3) % 7 -- 1970-01-01 was a Thursday; weeks start on Monday
      stop = start + 7
    elseif kind == "monthly" then
      local y, m = civil(days)
      start = days_from_civil(y, m, 1)
      if m == 12 then stop = days_from_civil(y + 1, 1, 1) else stop = days_from_civil(y, m + 1, 1) end
    else
      return redis.error_reply("unknown period " .. kind)
    end
    local y, m, d = civil(start)
    local label
    if kind == "monthly" then label = string.format("%04d-%02d", y, m) else label = string.format("%04d-%02d-%02d", y, m, d) end
    out[#out + 1] = {":" .. kind .. ":" .. label, (stop + retain * (stop - start)) * 86400}
  end
  return out
end

local function inc(key, s)
  if redis.call("HINCRBY", key .. ":dn", s, 1) == 1 then redis.call("ZADD", key .. ":ds", s, s) end
end

local function dec(key, s)
  if redis.call("HINCRBY", key .. ":dn", s, -1) <= 0 then
    redis.call("HDEL", key .. ":dn", s)
    redis.call("ZREM", key .. ":ds", s)
  end
end

local function remove(key)
  local old = redis.call("ZSCORE", key, member)
  if old then
    redis.call("ZREM", key, member)
    if dense then dec(key, old) end
  end
  return old
end

local function put(key, s) -- plain set of a stored-score string, companions kept
  local old = redis.call("ZSCORE", key, member)
  if old == s then return end
  redis.call("ZADD", key, s, member)
  if dense then
    if old then dec(key, old) end
    inc(key, redis.call("ZSCORE", key, member))
  end
end

local function apply(key)
  if op == "remove" then remove(key) return false end
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

local t
if ARGV[6] ~= "" then t = tonumber(ARGV[6]) else t = tonumber(redis.call("TIME")[1]) end
local cur = current_periods(t)
if cur.err then return cur end

-- Apply the op to one board family (the live one, or a rebuild's temporary copy).
local function write(prefix, with_periods)
  local keys = {{prefix, nil}}
  if with_periods then
    for _, p in ipairs(cur) do keys[#keys + 1] = {prefix .. p[1], p[2]} end
  end
  if pmode ~= "-" and (pmode ~= "k" or redis.call("HEXISTS", prefix .. ":pm", member) == 1) then
    local old_part = redis.call("HGET", prefix .. ":pm", member)
    local new_part
    if pmode == "k" then new_part = old_part
    elseif pmode == "n" then new_part = false
    else new_part = string.sub(pmode, 2) end
    if op == "remove" then new_part = false end
    if old_part ~= new_part then
      local suffixes = {{"", nil}}
      if with_periods then for _, p in ipairs(cur) do suffixes[#suffixes + 1] = p end end
      for _, sfx in ipairs(suffixes) do
        local s = false
        if old_part then s = remove(prefix .. ":p:" .. old_part .. sfx[1]) end
        -- moving keeps the score earned so far; the op below then applies to it
        if new_part and s then
          put(prefix .. ":p:" .. new_part .. sfx[1], s)
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
      if with_periods then
        for _, p in ipairs(cur) do keys[#keys + 1] = {prefix .. ":p:" .. new_part .. p[1], p[2]} end
      end
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
      local r = check(apply(k[1]))
      if i == 1 then
        reply = r
        delta = tonumber(r or "0") - tonumber(old_all or "0")
      end
      if k[2] and op ~= "remove" then expire(k[1], k[2]) end
    end
  end
  return reply
end

local reply = write(base, true)
-- A rebuild in progress loads into a temporary copy and then swaps it in: mirror the write
-- there too, so nothing written during the rebuild is lost by the swap.
local tmp = redis.call("GET", base .. ":rebuilding")
if tmp then write(tmp, false) end
return reply
