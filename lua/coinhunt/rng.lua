-- coinhunt.random's generator as the module has it (lua_sandbox.c):
-- xoshiro256**, its state spread from one 64-bit seed by splitmix64.  A
-- worker seeds it with coinhunt_seed N plus its number; the kit is worker
-- 0, so T.load(file, { seed = N }) rolls the dice of a one-worker nginx
-- with "coinhunt_seed N;".

local ffi = require "ffi"
local bit = require "bit"

local bxor, lshift, rshift, rol = bit.bxor, bit.lshift, bit.rshift, bit.rol
local U64 = ffi.typeof("uint64_t")

local rng = {}

-- the seed of coinhunt_seed: a decimal number that fits 64 bits (a string,
-- for those past 2^53), or a whole Lua number; nil when it is neither
function rng.seed(v)
  if type(v) == "number" then
    if v >= 0 and v < 2^53 and v == math.floor(v) then return U64(v) end
    return nil
  end
  if type(v) ~= "string" or not v:match("^%d+$") then return nil end
  local n, max = U64(0), 0xffffffffffffffffULL
  for i = 1, #v do
    local d = v:byte(i) - 48
    if n > (max - d) / 10 then return nil end
    n = n * 10 + d
  end
  return n
end

-- a seed from the kernel, as a worker without coinhunt_seed takes one
function rng.random_seed()
  local f = io.open("/dev/urandom", "rb")
  local bytes = f and f:read(8)
  if f then f:close() end
  local n = U64(os.time())
  for i = 1, bytes and #bytes or 0 do
    n = n * 256 + bytes:byte(i)
  end
  return n
end

function rng.new(seed)
  local s, x = {}, U64(seed)
  for i = 1, 4 do
    x = x + 0x9e3779b97f4a7c15ULL
    local z = x
    z = bxor(z, rshift(z, 30)) * 0xbf58476d1ce4e5b9ULL
    z = bxor(z, rshift(z, 27)) * 0x94d049bb133111ebULL
    s[i] = bxor(z, rshift(z, 31))
  end
  return s
end

-- a float in [0, 1) with 53 random bits, and the state moved on
function rng.uniform(s)
  local result = rol(s[2] * 5, 7) * 9
  local t = lshift(s[2], 17)

  s[3] = bxor(s[3], s[1])
  s[4] = bxor(s[4], s[2])
  s[2] = bxor(s[2], s[3])
  s[1] = bxor(s[1], s[4])
  s[3] = bxor(s[3], t)
  s[4] = rol(s[4], 45)

  return tonumber(rshift(result, 11)) * 2^-53
end

return rng
