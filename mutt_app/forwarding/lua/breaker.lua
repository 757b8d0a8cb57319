-- include mutt_app.core:now_ms
-- KEYS: breaker, transitions ; ARGV: 'allow' or 'record', threshold, timeout_ms, probe lease_ms, poll_ms, outcomes
-- Returns {allowed, wait_ms, probe, moves made ('closed>open,...')}.
local key, transitions = KEYS[1], KEYS[2]
local op = ARGV[1]
local threshold, timeout_ms, lease_ms, poll_ms = tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4]), tonumber(ARGV[5])
local now = now_ms()
local h = redis.call('HMGET', key, 'state', 'failures', 'opened_at', 'probe_until')
local state = h[1] or 'closed'
local failures = tonumber(h[2]) or 0
local opened_at = tonumber(h[3]) or 0
local probe_until = tonumber(h[4]) or 0
local moves = {}
local function move(new)
  table.insert(moves, state .. '>' .. new)
  redis.call('HINCRBY', transitions, state .. '>' .. new, 1)
  state = new
  redis.call('HSET', key, 'state', new, 'changed_at', now)
end
local allowed, wait, probe = 0, 0, 0
if op == 'allow' then
  if state == 'closed' then
    allowed = 1
  elseif state == 'open' then
    if now < opened_at + timeout_ms then
      wait = opened_at + timeout_ms - now
    else
      move('half_open')
      redis.call('HSET', key, 'probe_until', now + lease_ms)
      allowed, probe = 1, 1
    end
  elseif now < probe_until then
    wait = math.min(probe_until - now, poll_ms)
  else
    -- the last probe's lease ran out without a result: its worker is gone; this caller probes
    redis.call('HSET', key, 'probe_until', now + lease_ms)
    allowed, probe = 1, 1
  end
else
  -- op 'record': ARGV[6] holds the outcomes of sends in the order they finished, s or f each
  for i = 1, #ARGV[6] do
    if string.sub(ARGV[6], i, i) == 's' then
      if state == 'half_open' then move('closed') end
      failures = 0
    else
      failures = failures + 1
      if state == 'half_open' or (state == 'closed' and failures >= threshold) then
        move('open')
        redis.call('HSET', key, 'opened_at', now)
      end
    end
  end
  redis.call('HSET', key, 'failures', failures)
end
return {allowed, wait, probe, table.concat(moves, ',')}
