-- Rate-limit decisions, atomically; the same arithmetic as
-- security::rate_limit::decide (see there for the three strategies).
-- KEYS: one limiter key per budget; ARGV: strategy, now_ms, then limit and
-- window_ms for each key. Every budget is charged.
-- Returns one {allowed (0/1), remaining, reset_ms, retry_after_ms} per key.
local function decide(key, strategy, limit, w, now)
  if strategy == 'token_bucket' then
    local s = redis.call('HMGET', key, 't', 'l')
    local tokens = tonumber(s[1]) or limit
    local last = tonumber(s[2]) or now
    local rate = limit / w
    tokens = math.min(tokens + math.max(now - last, 0) * rate, limit)
    local allowed = 0
    if tokens >= 1 then
      tokens = tokens - 1
      allowed = 1
    end
    last = math.max(now, last)
    redis.call('HSET', key, 't', string.format('%.17g', tokens), 'l', string.format('%.17g', last))
    redis.call('PEXPIRE', key, 2 * w)
    local function ms_for(need)
      if rate > 0 then return math.ceil(need / rate) end
      return 9007199254740991
    end
    local retry = 0
    if allowed == 0 then retry = ms_for(1 - tokens) end
    return {allowed, math.floor(tokens), ms_for(limit - tokens), retry}
  end

  local win = math.floor(now / w)
  local elapsed = now - win * w
  local left = w - elapsed
  local s = redis.call('HMGET', key, 'w', 'c', 'p')
  local stored = tonumber(s[1])
  local current, previous = 0, 0
  if stored == win then
    current = tonumber(s[2])
    previous = tonumber(s[3])
  elseif stored == win - 1 then
    previous = tonumber(s[2])
  end

  local allowed, remaining, reset, retry = 0, 0, left, 0
  if strategy == 'fixed_window' then
    if current < limit then
      current = current + 1
      allowed = 1
    else
      retry = left
    end
    remaining = math.max(limit - current, 0)
  else
    local weight = left / w
    if previous * weight + current + 1 <= limit then
      current = current + 1
      allowed = 1
    end
    remaining = math.max(math.floor(limit - (previous * weight + current)), 0)
    if allowed == 0 then
      if current < limit then
        local need = 1 - (limit - 1 - current) / math.max(previous, 1)
        retry = math.max(math.ceil(w * need) - elapsed, 1)
      else
        local need = 1 - math.max(limit - 1, 0) / math.max(current, 1)
        retry = left + math.ceil(w * need)
      end
      reset = retry
    end
  end
  redis.call('HSET', key, 'w', string.format('%.17g', win), 'c', current, 'p', previous)
  redis.call('PEXPIRE', key, 2 * w)
  return {allowed, remaining, reset, retry}
end

local strategy = ARGV[1]
local now = tonumber(ARGV[2])
local out = {}
for i, key in ipairs(KEYS) do
  out[i] = decide(key, strategy, tonumber(ARGV[1 + 2 * i]), tonumber(ARGV[2 + 2 * i]), now)
end
return out
