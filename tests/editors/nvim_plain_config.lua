-- Neovim 0.11+ without the plugin: the plain vim.lsp.config / vim.lsp.enable setup from docs/editors.md,
-- against the real `pyengineer serve`. Run by tests/editors/run-neovim.sh (same environment as nvim_e2e.lua).

vim.g.loaded_python3_provider = 0
vim.opt.swapfile = false
vim.opt.shadafile = "NONE"

local server = assert(os.getenv("PYENGINEER_SERVER"), "PYENGINEER_SERVER not set")
local expected_file = assert(os.getenv("PYENGINEER_EXPECTED"), "PYENGINEER_EXPECTED not set")
local repo = assert(os.getenv("PYENGINEER_REPO"), "PYENGINEER_REPO not set")

-- The shared check/report helpers, beside this script.
local tap = dofile(vim.fn.fnamemodify(debug.getinfo(1, "S").source:sub(2), ":h") .. "/tap.lua")
local out, check, finish = tap.out, tap.check, tap.finish

if vim.fn.has("nvim-0.11") ~= 1 then
  check("vim.lsp.config needs Neovim 0.11", false)
  finish()
end

-- The configuration as documented in docs/editors.md (only cmd points at the server under test).
local settings = { protectedBranches = { "main", "master", "develop" } }
vim.lsp.config("pyengineer", {
  cmd = { server, "serve" },
  filetypes = { "python" },
  root_markers = { ".git", "pyproject.toml" },
  init_options = { settings = settings, trusted = true },
  settings = { pyengineer = settings },
})
vim.lsp.enable("pyengineer")

local function codes(bufnr)
  local found = {}
  for _, d in ipairs(vim.diagnostic.get(bufnr)) do
    if d.code then
      found[tostring(d.code)] = d
    end
  end
  return found
end

local function run()
  local bufnr = vim.api.nvim_get_current_buf()
  local arrived = vim.wait(45000, function()
    local found = codes(bufnr)
    return found.PE101 ~= nil and found.PE201 ~= nil
  end, 50)
  if not check("PE101 and PE201 arrive with the plain vim.lsp.config setup", arrived, vim.inspect(vim.diagnostic.get(bufnr))) then
    return finish()
  end
  local pe101 = codes(bufnr).PE101
  local client = vim.lsp.get_clients({ bufnr = bufnr, name = "pyengineer" })[1]
  local response = client:request_sync("textDocument/codeAction", {
    textDocument = { uri = vim.uri_from_bufnr(bufnr) },
    range = pe101.user_data.lsp.range,
    context = { diagnostics = { pe101.user_data.lsp } },
  }, 10000, bufnr)
  local action
  for _, candidate in ipairs((response and response.result) or {}) do
    if candidate.title:match("^Create branch '.+' %(keeps your changes%)$") then
      action = candidate
    end
  end
  if not check("the Create branch code action is offered", action ~= nil, vim.inspect(response)) then
    return finish()
  end
  if not action.command and action.data then
    action = client:request_sync("codeAction/resolve", action, 10000, bufnr).result
  end
  -- What vim.lsp.buf.code_action() does when the user picks it: run the command on the server.
  local done, result = false, nil
  client:exec_cmd(action.command, { bufnr = bufnr }, function(err, res)
    done, result = true, err and { error = err } or res
  end)
  vim.wait(20000, function()
    return done
  end, 50)
  local name = type(result) == "table" and result.branch or nil
  local head = vim.trim(vim.fn.system({ "git", "-C", repo, "rev-parse", "--abbrev-ref", "HEAD" }))
  check("running the action switches git to the new branch", name ~= nil and head == name, vim.inspect(result) .. " HEAD " .. head)
  local function read(path)
    local f = assert(io.open(path, "rb"))
    local data = f:read("*a")
    f:close()
    return data
  end
  check("the edited file is byte-identical", read(vim.api.nvim_buf_get_name(bufnr)) == read(expected_file))
  local gone = vim.wait(20000, function()
    local found = codes(bufnr)
    return found.PE101 == nil and found.PE201 ~= nil
  end, 50)
  check("PE101 is gone after the switch", gone, vim.inspect(vim.tbl_keys(codes(bufnr))))
  finish()
end

vim.api.nvim_create_autocmd("VimEnter", {
  callback = function()
    vim.defer_fn(function()
      local ok, err = pcall(run)
      if not ok then
        check("the test ran to the end", false, err)
        finish()
      end
    end, 10)
  end,
})
vim.defer_fn(function()
  check("finished within 120 s", false)
  finish()
end, 120000)
