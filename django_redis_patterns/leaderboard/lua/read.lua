-- Leaderboard read: rows with ranks, a member's score and rank, counts; always one call.
-- KEYS[1]  board base key, e.g. "lb:{scores}"; the board read is derived from it (same slot)
-- KEYS[2]  optional: the board's marker ("<base>:meta", written by a full rebuild). When given
--          and missing, Redis does not hold the board (lost data, or never built): the reply
--          is the error "LEADERBOARD board missing" and the caller rebuilds it or says so
-- ARGV[1]  op: "range" | "around" | "score" | "member" | "members" | "count" | "percentile" | "histogram"
--          | "position" | "parts"; range/around/score with a "+d" suffix also return each row's display
--          data (HMGET of the base key's ":d" hash: model boards with display_fields)
-- ARGV[2]  ranking: "competition" | "dense" | "ordinal"
-- ARGV[3]  partition value ("" = the global board)
-- ARGV[4]  period: "" (all-time) | "daily" | "weekly" | "monthly"; with a "+p" suffix (a board
--          that can rebuild its periods) the period's own state decides whether Redis holds it,
--          not KEYS[2]: it is held when its marker "<KEYS[2]>:<period>:<label>" (written by a
--          period rebuild) exists, or KEYS[2] exists and its "since" field (when Redis began to
--          hold the board; absent = always), or "<KEYS[2]>:since" (the same, written by the first
--          period rebuild after a loss), is not after the period's start, or, for a finished
--          period, its board exists (written before any loss). Otherwise the reply is the error
--          "LEADERBOARD board missing period <period>:<label>"
-- ARGV[5]  unix seconds choosing the period ("" = Redis TIME)
-- ARGV[6..] op arguments:
--            range: start stop            around: member n fill("1"/"0")
--            score: min max offset limit  (stored-score bounds, "(" prefix = exclusive)
--            member: member               members: member...
--            percentile: member           histogram: bins     position: member
-- reply    range/around/score: {count} when no rows, else {count, position of the first row (0-based),
--          rank of the first row, {member, score, member, score, ...}[, {data|false, ...} with "+d"]}
--          member: {score|false, rank|false}; members: {score|false, rank|false, ...}
--          count: n; percentile: {score|false, members strictly better|false, count}
--          histogram: {count, min|false, max|false, n1, n2, ...}; position: 0-based index|false
--          parts: the partition values in use
-- Scores are the stored strings (ascending: descending boards store -score); ranks are
-- 1-based and computed here so no read costs more than this one call.
local base = KEYS[1]
local op, ranking, part, period = ARGV[1], ARGV[2], ARGV[3], ARGV[4]
local own = string.sub(period, -2) == "+p"
if own then period = string.sub(period, 1, -3) end
if KEYS[2] and not own and redis.call("EXISTS", KEYS[2]) == 0 then
  return redis.error_reply("LEADERBOARD board missing")
end
local with_data = string.sub(op, -2) == "+d"
if with_data then op = string.sub(op, 1, -3) end

local function civil(days)
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

local key = base
if part ~= "" then key = key .. ":p:" .. part end
if period ~= "" then
  local now = tonumber(redis.call("TIME")[1])
  local t = now
  if ARGV[5] ~= "" then t = tonumber(ARGV[5]) end
  -- label and first day of the period containing unix time t
  local function period_of(t)
    local days = math.floor(t / 86400)
    if period == "daily" then
      return string.format("%04d-%02d-%02d", civil(days)), days
    elseif period == "weekly" then
      local first = days - (days + 3) % 7 -- 1970-01-01 was a Thursday; weeks start on Monday
      return string.format("%04d-%02d-%02d", civil(first)), first
    elseif period == "monthly" then
      local y, m, d = civil(days)
      return string.format("%04d-%02d", y, m), days - d + 1
    end
    return nil, nil
  end
  local label, first = period_of(t)
  if not label then return redis.error_reply("unknown period " .. period) end
  if own then
    local meta = KEYS[2]
    local held = redis.call("EXISTS", meta .. ":" .. period .. ":" .. label) == 1
    if not held and redis.call("EXISTS", meta) == 1 then
      local since = redis.call("HGET", meta, "since")
      held = (not since) or tonumber(since) <= first * 86400
    end
    if not held then -- a period rebuild's own record of since when Redis holds the periods
      local since = redis.call("GET", meta .. ":since")
      held = since and tonumber(since) <= first * 86400
    end
    if not held and label ~= period_of(now) then
      held = redis.call("EXISTS", base .. ":" .. period .. ":" .. label) == 1
    end
    if not held then return redis.error_reply("LEADERBOARD board missing period " .. period .. ":" .. label) end
  end
  key = key .. ":" .. period .. ":" .. label
end

-- Rank of the first row holding stored score s at 0-based position pos.
local function first_rank(s, pos)
  if ranking == "ordinal" then return pos + 1 end
  if ranking == "dense" then return redis.call("ZCOUNT", key .. ":ds", "-inf", "(" .. s) + 1 end
  return redis.call("ZCOUNT", key, "-inf", "(" .. s) + 1
end

-- rows: flat {member, score, ...} from ZRANGE, starting at 0-based position start. The rows go
-- back untouched with the first row's rank: the client numbers the rest (a tie keeps the rank,
-- any other row takes its position, or the next rank on a dense board), so Lua copies nothing.
local function ranked(rows, start, count)
  if #rows == 0 then return {count} end
  if with_data then
    local members, data = {}, {}
    for i = 1, #rows, 2 do members[#members + 1] = rows[i] end
    for i = 1, #members, 1000 do -- unpack() has a stack limit: HMGET in slices
      local got = redis.call("HMGET", base .. ":d", unpack(members, i, math.min(i + 999, #members)))
      for j = 1, #got do data[#data + 1] = got[j] end
    end
    return {count, start, first_rank(rows[2], start), rows, data}
  end
  return {count, start, first_rank(rows[2], start), rows}
end

local function score_rank(member)
  local s = redis.call("ZSCORE", key, member)
  if not s then return false, false end
  if ranking == "ordinal" then return s, redis.call("ZRANK", key, member) + 1 end
  return s, first_rank(s, 0)
end

-- member/members/position replies carry no count: only the other ops pay for ZCARD
local count = 0
if op == "parts" then return redis.call("SMEMBERS", base .. ":parts") end
if op ~= "member" and op ~= "members" and op ~= "position" then count = redis.call("ZCARD", key) end

if op == "range" then
  local start, stop = tonumber(ARGV[6]), tonumber(ARGV[7])
  return ranked(redis.call("ZRANGE", key, start, stop, "WITHSCORES"), start, count)
elseif op == "around" then
  local pos = redis.call("ZRANK", key, ARGV[6])
  if not pos then return {count} end
  local n = tonumber(ARGV[7])
  local start, stop = pos - n, pos + n
  if ARGV[8] == "1" then -- keep 2n+1 rows at the edges of the board
    if start < 0 then stop = stop - start; start = 0 end
    if stop > count - 1 then start = math.max(0, start - (stop - count + 1)); stop = count - 1 end
  end
  if start < 0 then start = 0 end
  return ranked(redis.call("ZRANGE", key, start, stop, "WITHSCORES"), start, count)
elseif op == "score" then
  local rows = redis.call("ZRANGE", key, ARGV[6], ARGV[7], "BYSCORE", "LIMIT", ARGV[8], ARGV[9], "WITHSCORES")
  if #rows == 0 then return {count} end
  local start = redis.call("ZRANK", key, rows[1])
  return ranked(rows, start, count)
elseif op == "member" then
  local s, r = score_rank(ARGV[6])
  return {s, r}
elseif op == "members" then
  local out = {}
  for i = 6, #ARGV do
    local s, r = score_rank(ARGV[i])
    out[#out + 1] = s
    out[#out + 1] = r
  end
  return out
elseif op == "position" then
  return redis.call("ZRANK", key, ARGV[6])
elseif op == "count" then
  return count
elseif op == "percentile" then
  local s = redis.call("ZSCORE", key, ARGV[6])
  if not s then return {false, false, count} end
  return {s, redis.call("ZCOUNT", key, "-inf", "(" .. s), count}
elseif op == "histogram" then
  if count == 0 then return {0, false, false} end
  local lo = redis.call("ZRANGE", key, 0, 0, "WITHSCORES")[2]
  local hi = redis.call("ZRANGE", key, -1, -1, "WITHSCORES")[2]
  local out = {count, lo, hi}
  local bins = tonumber(ARGV[6])
  local a, b = tonumber(lo), tonumber(hi)
  local width = (b - a) / bins
  -- bin edges go to ZCOUNT as strings built by Redis-safe %.17g
  local prev = "-inf"
  for i = 1, bins do
    local edge
    if i == bins or width == 0 then edge = "+inf" else edge = "(" .. string.format("%.17g", a + width * i) end
    local c = redis.call("ZCOUNT", key, prev, edge)
    out[#out + 1] = c
    if edge == "+inf" then
      for _ = i + 1, bins do out[#out + 1] = 0 end
      break
    end
    prev = string.sub(edge, 2)
  end
  return out
end
return redis.error_reply("unknown op " .. op)
