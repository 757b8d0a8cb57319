-- KEYS: rejected ; ARGV: the ids of the items at the head of the list that were just stored
-- Trim them, unless they are no longer at the head: another run stored and trimmed them first.
local head = redis.call('LRANGE', KEYS[1], 0, #ARGV - 1)
if #head < #ARGV then return 0 end
for i, raw in ipairs(head) do
  if cjson.decode(raw)['id'] ~= ARGV[i] then return 0 end
end
redis.call('LTRIM', KEYS[1], #ARGV, -1)
return 1
