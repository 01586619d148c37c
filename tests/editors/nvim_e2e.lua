-- Headless Neovim end-to-end test of the pyengineer plugin against the real `pyengineer serve`.
--
-- Run by tests/editors/run-neovim.sh:
--   nvim --headless -i NONE -n -u tests/editors/nvim_e2e.lua model.py     (cwd: the scenario repository)
-- Environment: PYENGINEER_PLUGIN (the neovim/ folder), PYENGINEER_SERVER (pyengineer executable),
-- PYENGINEER_EXPECTED (a copy of the edited model.py), PYENGINEER_REPO.
-- Exit code 0 when every check passed; the checks are printed as "ok"/"not ok" lines.

vim.g.loaded_python3_provider = 0
vim.g.loaded_node_provider = 0
vim.g.loaded_perl_provider = 0
vim.g.loaded_ruby_provider = 0
vim.opt.swapfile = false
vim.opt.shadafile = "NONE"

local plugin_dir = assert(os.getenv("PYENGINEER_PLUGIN"), "PYENGINEER_PLUGIN not set")
local server = assert(os.getenv("PYENGINEER_SERVER"), "PYENGINEER_SERVER not set")
local expected_file = assert(os.getenv("PYENGINEER_EXPECTED"), "PYENGINEER_EXPECTED not set")
local repo = assert(os.getenv("PYENGINEER_REPO"), "PYENGINEER_REPO not set")
vim.opt.runtimepath:prepend(plugin_dir)

-- The shared check/report helpers, beside this script.
local tap = dofile(vim.fn.fnamemodify(debug.getinfo(1, "S").source:sub(2), ":h") .. "/tap.lua")
local out, check, finish = tap.out, tap.check, tap.finish

local function read_file(path)
  local handle = io.open(path, "rb")
  if not handle then
    return nil
  end
  local data = handle:read("*a")
  handle:close()
  return data
end

local function git_branch()
  return vim.trim(vim.fn.system({ "git", "-C", repo, "rev-parse", "--abbrev-ref", "HEAD" }))
end

-- Diagnostic code: 0.8+ sets d.code; 0.7 keeps the LSP diagnostic in user_data.lsp.
local function code_of(d)
  if d.code ~= nil then
    return tostring(d.code)
  end
  local lsp = d.user_data and d.user_data.lsp
  return lsp and lsp.code and tostring(lsp.code) or nil
end

local function codes(bufnr)
  local found = {}
  for _, d in ipairs(vim.diagnostic.get(bufnr)) do
    local code = code_of(d)
    if code then
      found[code] = d
    end
  end
  return found
end

local function describe_diagnostics(bufnr)
  local lines = {}
  for _, d in ipairs(vim.diagnostic.get(bufnr)) do
    table.insert(lines, ("%s %s:%d %s"):format(tostring(d.source), tostring(code_of(d)), d.lnum, d.message))
  end
  return "diagnostics: [" .. table.concat(lines, "; ") .. "]"
end

local function lsp_log_tail()
  local path = vim.lsp.get_log_path and vim.lsp.get_log_path() or ""
  local data = read_file(path) or ""
  return "lsp log tail: " .. data:sub(-2000)
end

if os.getenv("PYENGINEER_LSP_DEBUG") == "1" then
  vim.lsp.set_log_level("debug")
end
-- Every notification, from the plugin (vim.notify) and from the server (window/showMessage), counted from
-- the start: one event must be said once. Replaced before the plugin loads, as a notification plugin would be.
local notes = {}
local builtin_notify = vim.notify
vim.notify = function(message, level, opts)
  table.insert(notes, { message = tostring(message), level = level })
  return builtin_notify(message, level, opts)
end
local server_messages = {}
local builtin_show_message = vim.lsp.handlers["window/showMessage"]
vim.lsp.handlers["window/showMessage"] = function(err, result, ctx, config)
  table.insert(server_messages, result and result.message or "?")
  return builtin_show_message(err, result, ctx, config)
end

local function notes_matching(pattern)
  local found = {}
  for _, note in ipairs(notes) do
    if note.message:find(pattern) then
      table.insert(found, note)
    end
  end
  return found
end

local pyengineer = require("pyengineer")
pyengineer.setup({ server_path = server, settings = { debounceMs = 50 } })

local function run()
  local bufnr = vim.api.nvim_get_current_buf()
  local name = vim.api.nvim_buf_get_name(bufnr)
  check("the scenario file is loaded as python", vim.bo[bufnr].filetype == "python", name .. " " .. vim.bo[bufnr].filetype)

  local attached = vim.wait(20000, function()
    return #pyengineer.clients(bufnr) > 0
  end, 50)
  if not check("the plugin started the server and attached it", attached, lsp_log_tail()) then
    return finish()
  end

  local arrived = vim.wait(45000, function()
    local found = codes(bufnr)
    return found.PE101 ~= nil and found.PE201 ~= nil
  end, 50)
  local detail = describe_diagnostics(bufnr) .. "\nlast pyengineer/status: " .. vim.inspect(pyengineer.status(bufnr))
  if not check("PE101 and PE201 arrive", arrived, detail .. "\n" .. lsp_log_tail()) then
    return finish()
  end
  local found = codes(bufnr)
  check("PE201 is on the import line", found.PE201.lnum == 0, describe_diagnostics(bufnr))
  check("diagnostics come from pyengineer", found.PE101.source == "pyengineer", tostring(found.PE101.source))

  local shown = vim.wait(15000, function()
    return pyengineer.statusline(bufnr):find("main", 1, true) ~= nil
  end, 50)
  check("the statusline shows main", shown, "statusline: '" .. pyengineer.statusline(bufnr) .. "'")
  check("the statusline marks main protected", pyengineer.statusline(bufnr):find("[protected]", 1, true) ~= nil,
    pyengineer.statusline(bufnr))

  -- The code actions the server offers for PE101.
  -- Rebuild the LSP diagnostic (0.7 keeps only the extra fields in user_data.lsp; 0.8+ keeps all of it).
  local d = found.PE101
  local lsp_diag = vim.tbl_extend("force", {
    range = {
      start = { line = d.lnum, character = d.col },
      ["end"] = { line = d.end_lnum or d.lnum, character = d.end_col or d.col },
    },
    message = d.message,
    source = d.source,
    severity = d.severity,
  }, (d.user_data and d.user_data.lsp) or {})
  local responses = vim.lsp.buf_request_sync(bufnr, "textDocument/codeAction", {
    textDocument = { uri = vim.uri_from_bufnr(bufnr) },
    range = lsp_diag.range,
    context = { diagnostics = { lsp_diag } },
  }, 10000) or {}
  local titles, errors = {}, {}
  for _, response in pairs(responses) do
    if response.err or response.error then
      table.insert(errors, vim.inspect(response.err or response.error))
    end
    for _, action in ipairs(response.result or {}) do
      table.insert(titles, action.title)
    end
  end
  local has_create = false
  for _, title in ipairs(titles) do
    if title:match("^Create branch '.+' %(keeps your changes%)$") then
      has_create = true
    end
  end
  check("a Create branch code action is offered", has_create,
    "titles: " .. vim.inspect(titles) .. " errors: " .. table.concat(errors, "; "))
  -- No key, and Neovim cannot grey an action out: the agent's fix is not offered (and never for PE101).
  check("no 'Ask python-engineer for a fix' on PE101 without a key", not vim.tbl_contains(titles, "Ask python-engineer for a fix"),
    vim.inspect(titles))

  -- :PyengineerBranch without a name asks with the server's suggestion prefilled; accept it as a user would.
  local prompted = nil
  vim.ui.input = function(opts, on_confirm)
    prompted = opts
    on_confirm(opts.default)
  end
  vim.cmd("PyengineerBranch")
  local suggested = vim.wait(15000, function()
    return prompted ~= nil
  end, 50) and prompted.default or ""
  check("the branch prompt is prefilled with a suggestion", suggested ~= "", vim.inspect(prompted))
  local switched = vim.wait(20000, function()
    return git_branch() == suggested
  end, 100)
  check(":PyengineerBranch switches git to the suggested branch", switched, "HEAD is " .. git_branch())
  vim.wait(5000, function()
    return #notes_matching("Switched to the new branch") > 0
  end, 50)
  vim.wait(500, function()
    return false
  end, 50)
  check("the switch is said once", #notes_matching("Switched to the new branch") == 1, vim.inspect(notes))
  check("the edited file is byte-identical", read_file(name) == read_file(expected_file))

  local gone = vim.wait(20000, function()
    local now = codes(bufnr)
    return now.PE101 == nil and now.PE201 ~= nil
  end, 50)
  check("PE101 is gone and PE201 stays", gone, describe_diagnostics(bufnr))
  local updated = vim.wait(15000, function()
    return pyengineer.statusline(bufnr):find(suggested, 1, true) ~= nil
  end, 50)
  check("the statusline shows the new branch", updated, "statusline: '" .. pyengineer.statusline(bufnr) .. "'")
  check("the statusline no longer says protected", pyengineer.statusline(bufnr):find("protected", 1, true) == nil,
    pyengineer.statusline(bufnr))

  -- :PyengineerBranch with an explicit name.
  vim.cmd("PyengineerBranch feature/nvim-explicit")
  local explicit = vim.wait(20000, function()
    return git_branch() == "feature/nvim-explicit"
  end, 100)
  check(":PyengineerBranch NAME switches to NAME", explicit, "HEAD is " .. git_branch())
  local explicit_status = vim.wait(15000, function()
    return pyengineer.statusline(bufnr):find("feature/nvim-explicit", 1, true) ~= nil
  end, 50)
  check("the statusline follows", explicit_status, pyengineer.statusline(bufnr))
  check("the edited file is still byte-identical", read_file(name) == read_file(expected_file))

  -- :PyengineerHandoff writes the note and shows it in a split: the code stays in its window.
  vim.cmd("only")
  vim.cmd("buffer " .. bufnr)
  local code_window = vim.api.nvim_get_current_win()
  vim.cmd("PyengineerHandoff")
  local handoffs = repo .. "/docs/handoffs/"
  local note = nil
  local written = vim.wait(30000, function()
    for _, win in ipairs(vim.api.nvim_list_wins()) do
      local shown = vim.api.nvim_buf_get_name(vim.api.nvim_win_get_buf(win))
      if shown:sub(1, #handoffs) == handoffs and shown:sub(-3) == ".md" then
        note = shown
        return true
      end
    end
    return false
  end, 50)
  local content = note and read_file(note) or ""
  check(":PyengineerHandoff writes a note under docs/handoffs and shows it", written and content:find("model.py", 1, true) ~= nil,
    "windows: " .. vim.inspect(vim.tbl_map(function(w)
      return vim.api.nvim_buf_get_name(vim.api.nvim_win_get_buf(w))
    end, vim.api.nvim_list_wins())))
  -- Back to model.py in a single window (after any late window/showDocument from the server).
  vim.wait(1000, function()
    return false
  end, 50)
  check("the hand-off opens in a split, the code keeps its window",
    vim.api.nvim_win_is_valid(code_window) and vim.api.nvim_win_get_buf(code_window) == bufnr
      and #vim.api.nvim_list_wins() >= 2,
    "windows: " .. #vim.api.nvim_list_wins())
  check("the hand-off is said once", #notes_matching("Hand%-off document written") == 1, vim.inspect(notes))
  vim.cmd("only")
  vim.cmd("buffer " .. bufnr)

  -- :PyengineerContext opens the context JSON.
  vim.cmd("PyengineerContext")
  local context_buf = nil
  vim.wait(15000, function()
    for _, buf in ipairs(vim.api.nvim_list_bufs()) do
      if vim.api.nvim_buf_get_name(buf):match("pyengineer://context$") then
        context_buf = buf
        return true
      end
    end
    return false
  end, 50)
  local text = context_buf and table.concat(vim.api.nvim_buf_get_lines(context_buf, 0, -1, false), "\n") or ""
  check(":PyengineerContext shows the context", text:find('"feature/nvim-explicit"', 1, true) ~= nil, text:sub(1, 600))
  vim.cmd("only")

  -- :PyengineerAsk without an API key says how to get one here (:PyengineerApiKey), once, and opens nothing.
  local before = #notes
  vim.cmd("PyengineerAsk Is this safe?")
  local told = vim.wait(30000, function()
    return #notes_matching("No Anthropic API key") > 0
  end, 50)
  vim.wait(500, function()
    return false
  end, 50)
  local asked = notes_matching("No Anthropic API key")
  check(":PyengineerAsk without a key says so once, naming :PyengineerApiKey",
    told and #asked == 1 and asked[1].level == vim.log.levels.WARN and asked[1].message:find(":PyengineerApiKey", 1, true) ~= nil
      and #notes == before + 1,
    vim.inspect(notes))
  check("no answer window without a key", vim.fn.bufexists("pyengineer://answer") == 0)

  -- Said once, by the plugin: the server sent no window/showMessage for any command above.
  check("the server sent no showMessage for the commands", #server_messages == 0, vim.inspect(server_messages))
  -- Every notification fits on the command line (no "Press ENTER" prompt), and none is waiting for one.
  local too_long = {}
  for _, note in ipairs(notes) do
    if note.message:find("\n", 1, true) or vim.fn.strdisplaywidth(note.message) >= vim.o.columns then
      table.insert(too_long, note.message)
    end
  end
  check("every notification is one line that fits", #too_long == 0, vim.inspect(too_long))
  local mode = vim.api.nvim_get_mode()
  check("no hit-enter prompt is pending", mode.mode:sub(1, 1) ~= "r" and not mode.blocking, vim.inspect(mode))

  -- :checkhealth pyengineer reports no errors.
  vim.cmd("checkhealth pyengineer")
  local report = table.concat(vim.api.nvim_buf_get_lines(0, 0, -1, false), "\n")
  check(":checkhealth pyengineer runs our check", report:find("server command", 1, true) ~= nil, report:sub(1, 1500))
  check(":checkhealth pyengineer has no errors", report:find("ERROR", 1, true) == nil, report:sub(1, 1500))
  check(":checkhealth pyengineer reports the LLM state and the base URL",
    report:find("no Anthropic API key", 1, true) ~= nil and report:find("base URL", 1, true) ~= nil, report)

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

-- A hard stop so a hang fails instead of blocking the suite.
vim.defer_fn(function()
  check("finished within 150 s", false)
  finish()
end, 150000)
