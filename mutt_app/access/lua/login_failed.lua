-- KEYS: failure count ; ARGV: max failures, lockout seconds. Returns the count.
local n = redis.call('INCR', KEYS[1])
if n == 1 or n >= tonumber(ARGV[1]) then redis.call('EXPIRE', KEYS[1], tonumber(ARGV[2])) end
return n
