-- The report the headless Neovim tests share: an "ok"/"not ok" line per check, a summary line, and the exit
-- code (0 only when every check passed). Loaded by each test script with dofile (see nvim_e2e.lua).
local M = { passed = 0, failed = 0 }

function M.out(line)
  io.stdout:write(line .. "\n")
end

function M.check(name, condition, detail)
  if condition then
    M.passed = M.passed + 1
    M.out("ok - " .. name)
  else
    M.failed = M.failed + 1
    M.out("not ok - " .. name .. (detail and ("\n    " .. tostring(detail):gsub("\n", "\n    ")) or ""))
  end
  return condition
end

function M.finish()
  local v = vim.version()
  M.out(("neovim %d.%d.%d: %d passed, %d failed"):format(v.major, v.minor, v.patch, M.passed, M.failed))
  vim.cmd(M.failed == 0 and "qall!" or "cquit! 1")
end

return M
