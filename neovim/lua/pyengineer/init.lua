-- pyengineer for Neovim: starts `pyengineer serve` for Python buffers and adds its commands.
--
--   require("pyengineer").setup({})
--
-- Works on Neovim 0.7 (vim.lsp.start_client) and 0.8+ (vim.lsp.start). See neovim/README.md.

local M = {}

local defaults = {
  -- The server command. When nil: { server_path, "serve" }, else { python, "-m", "pyengineer", "serve" },
  -- else `pyengineer serve` when it is on PATH, else the active virtualenv's python, else python3.
  cmd = nil,
  server_path = nil,
  python = nil,
  filetypes = { "python" },
  -- The workspace root is the nearest folder holding one of these (the git root first).
  root_markers = { ".git", "pyproject.toml", "setup.py", "setup.cfg", "requirements.txt" },
  -- pyengineer settings, camelCase as in the VS Code extension without the "pyengineer." prefix, e.g.
  -- { protectedBranches = { "main", "release/*" }, llm = { enabled = false } }.
  settings = {},
  -- Anthropic API key: a string, or a function returning one. Nil leaves it to the server's environment.
  api_key = nil,
  -- Whether the server may run project code (tests). Set false for folders you do not trust.
  trusted = true,
  autostart = true,
  on_attach = nil,
  capabilities = nil,
}

M.config = vim.deepcopy(defaults)

-- Latest `pyengineer/status` per client id, then per workspace uri.
local statuses = {}
-- Neovim 0.7 has no vim.lsp.start: one client per root, reused for every buffer under it.
local clients_by_root = {}
local augroup = nil

local function has(feature)
  return vim.fn.has(feature) == 1
end

-- Neovim's own vim.notify echoes to the command line, where a message wider than it asks "Press ENTER".
-- With it, a long message is cut to one line (the whole text is in the float or split that goes with it);
-- a notification plugin that replaced vim.notify gets the whole text.
local builtin_notify = vim.notify

local function notify(message, level)
  local text = "pyengineer: " .. tostring(message):gsub("%s*\n%s*", " ")
  if vim.notify == builtin_notify then
    local room = math.max((vim.v.echospace or vim.o.columns) - 1, 20)
    if vim.fn.strdisplaywidth(text) > room then
      text = vim.fn.strcharpart(text, 0, room - 1) .. "…"
    end
  end
  vim.notify(text, level or vim.log.levels.INFO)
end

-- The level for a typed command result (server/pyengineer/lsp/results.py): nil for a cancellation.
local function result_level(status)
  if status == "ok" then
    return vim.log.levels.INFO
  elseif status == "cancelled" then
    return nil
  elseif status == "failed" then
    return vim.log.levels.ERROR
  end
  return vim.log.levels.WARN
end

--- Says a command's result once: the server sends no window/showMessage for what it answers.
local function say(result)
  if type(result) ~= "table" or type(result.message) ~= "string" then
    return
  end
  local level = result_level(result.status)
  if level then
    notify(result.message, level)
  end
end

M.say = say

local function json_encode(value)
  local text
  if vim.json and vim.json.encode then
    text = vim.json.encode(value)
  else
    text = vim.fn.json_encode(value)
  end
  -- lua-cjson escapes "/" as "\/": valid JSON, but noisy to read.
  return (text:gsub("\\/", "/"))
end

local function path_exists(path)
  return (vim.loop or vim.uv).fs_stat(path) ~= nil
end

local function parent(dir)
  local up = vim.fn.fnamemodify(dir, ":h")
  if up == dir then
    return nil
  end
  return up
end

--- The folder that holds `fname`'s project: the nearest git root, else the nearest other marker, else its folder.
function M.find_root(fname)
  local start = vim.fn.fnamemodify(fname, ":p:h")
  for _, marker in ipairs(M.config.root_markers) do
    local dir = start
    while dir do
      if path_exists(dir .. "/" .. marker) then
        return dir
      end
      dir = parent(dir)
    end
  end
  return start
end

--- The command that starts the server, from the options (see `defaults`).
function M.server_cmd(config)
  config = config or M.config
  if config.cmd then
    return config.cmd
  end
  if config.server_path then
    return { vim.fn.expand(config.server_path), "serve" }
  end
  if config.python then
    return { vim.fn.expand(config.python), "-m", "pyengineer", "serve" }
  end
  if vim.fn.executable("pyengineer") == 1 then
    return { "pyengineer", "serve" }
  end
  local venv = vim.env.VIRTUAL_ENV
  if venv and vim.fn.executable(venv .. "/bin/python") == 1 then
    return { venv .. "/bin/python", "-m", "pyengineer", "serve" }
  end
  return { "python3", "-m", "pyengineer", "serve" }
end

-- Lua's empty table would be sent as a JSON array; objects the server expects must stay objects.
local function as_object(value)
  if type(value) ~= "table" or next(value) == nil then
    return vim.empty_dict()
  end
  return value
end

--- The settings object sent to the server (initializationOptions.settings and workspace/configuration).
function M.server_settings()
  local settings = vim.deepcopy(M.config.settings or {})
  if settings.severity ~= nil then
    settings.severity = as_object(settings.severity)
  end
  if settings.llm ~= nil then
    settings.llm = as_object(settings.llm)
  end
  return as_object(settings)
end

local function api_key()
  local key = M.config.api_key
  if type(key) == "function" then
    key = key()
  end
  if type(key) == "string" and key ~= "" then
    return key
  end
  return nil
end

local function get_clients(bufnr)
  local found
  if vim.lsp.get_clients then
    found = vim.lsp.get_clients({ bufnr = bufnr, name = "pyengineer" })
  elseif bufnr then
    found = {}
    for _, client in pairs(vim.lsp.buf_get_clients(bufnr)) do
      if client.name == "pyengineer" then
        table.insert(found, client)
      end
    end
  else
    found = {}
    for _, client in pairs(vim.lsp.get_active_clients()) do
      if client.name == "pyengineer" then
        table.insert(found, client)
      end
    end
  end
  return found
end

--- The running pyengineer clients (all, or those attached to `bufnr`).
function M.clients(bufnr)
  return get_clients(bufnr)
end

local function client_for(bufnr)
  bufnr = (bufnr == nil or bufnr == 0) and vim.api.nvim_get_current_buf() or bufnr
  local client = get_clients(bufnr)[1] or get_clients(nil)[1]
  if not client then
    notify("the server is not running for this buffer (see :checkhealth pyengineer)", vim.log.levels.ERROR)
  end
  return client
end

local function request(client, method, params, handler, bufnr)
  if has("nvim-0.11") then
    return client:request(method, params, handler, bufnr)
  end
  return client.request(method, params, handler, bufnr)
end

local function send_notification(client, method, params)
  if has("nvim-0.11") then
    return client:notify(method, params)
  end
  return client.notify(method, params)
end

--- Runs a server command (workspace/executeCommand); calls on_result(result) or reports the error.
function M.execute(command, argument, on_result, bufnr)
  bufnr = (bufnr == nil or bufnr == 0) and vim.api.nvim_get_current_buf() or bufnr
  local client = client_for(bufnr)
  if not client then
    return false
  end
  local params = { command = command, arguments = argument ~= nil and { argument } or {} }
  request(client, "workspace/executeCommand", params, function(err, result)
    if err then
      notify(command .. " failed: " .. (err.message or tostring(err)), vim.log.levels.ERROR)
      return
    end
    if on_result then
      on_result(result)
    end
  end, bufnr)
  return true
end

local function buffer_uri(bufnr)
  local name = vim.api.nvim_buf_get_name(bufnr)
  if name == "" then
    return nil
  end
  return vim.uri_from_fname(vim.fn.fnamemodify(name, ":p"))
end

-- Status --------------------------------------------------------------------------------------------

local function on_status(_, result, ctx)
  if type(result) ~= "table" or type(result.workspace) ~= "string" then
    return
  end
  statuses[ctx.client_id] = statuses[ctx.client_id] or {}
  statuses[ctx.client_id][result.workspace] = result
  pcall(vim.cmd, "redrawstatus!")
  pcall(vim.api.nvim_exec_autocmds, "User", { pattern = "PyengineerStatus", modeline = false })
end

--- The latest status for `bufnr` (the workspace that holds it), or nil.
function M.status(bufnr)
  bufnr = (bufnr == nil or bufnr == 0) and vim.api.nvim_get_current_buf() or bufnr
  local uri = buffer_uri(bufnr) or ""
  local best, best_len = nil, -1
  for _, client in ipairs(get_clients(bufnr)) do
    for workspace, status in pairs(statuses[client.id] or {}) do
      local prefix = workspace:sub(-1) == "/" and workspace or workspace .. "/"
      local fits = uri:sub(1, #prefix) == prefix or uri == workspace
      if fits and #workspace > best_len then
        best, best_len = status, #workspace
      elseif best == nil then
        best = status
      end
    end
  end
  return best
end

local function is_null(value)
  return value == nil or value == vim.NIL
end

--- Text for a statusline: "main [protected] | ML 1 | LLM off", or "" when there is no status.
---   vim.o.statusline = "%f %{v:lua.require'pyengineer'.statusline()}"
function M.statusline(bufnr)
  local status = M.status(bufnr)
  if not status then
    return ""
  end
  local head
  if status.detached == true then
    head = "detached" .. (is_null(status.head) and "" or (" " .. tostring(status.head):sub(1, 8)))
  elseif not is_null(status.branch) then
    head = tostring(status.branch)
  else
    head = "no git"
  end
  local parts = { head .. (status.protected == true and " [protected]" or "") }
  local ml = tonumber(status.mlFileCount) or 0
  if ml > 0 then
    table.insert(parts, "ML " .. ml)
  end
  local llm = type(status.llm) == "table" and status.llm or {}
  local llm_state = llm.enabled ~= true and "off" or (llm.available == true and "on" or "unavailable")
  table.insert(parts, "LLM " .. llm_state)
  return table.concat(parts, " | ")
end

-- Output buffers -------------------------------------------------------------------------------------

local function pretty_json(value, indent)
  indent = indent or ""
  local inner = indent .. "  "
  if value == vim.NIL or value == nil then
    return "null"
  end
  if type(value) ~= "table" then
    return json_encode(value)
  end
  local is_list = (vim.islist or vim.tbl_islist)(value)
  if next(value) == nil then
    return getmetatable(value) ~= nil and "{}" or "[]"
  end
  local lines = {}
  if is_list then
    for _, item in ipairs(value) do
      table.insert(lines, inner .. pretty_json(item, inner))
    end
    return "[\n" .. table.concat(lines, ",\n") .. "\n" .. indent .. "]"
  end
  local keys = vim.tbl_keys(value)
  table.sort(keys, function(a, b)
    return tostring(a) < tostring(b)
  end)
  for _, key in ipairs(keys) do
    table.insert(lines, inner .. json_encode(tostring(key)) .. ": " .. pretty_json(value[key], inner))
  end
  return "{\n" .. table.concat(lines, ",\n") .. "\n" .. indent .. "}"
end

M.pretty_json = pretty_json

local function show_scratch(name, text, filetype)
  vim.cmd("botright new")
  local buf = vim.api.nvim_get_current_buf()
  vim.api.nvim_buf_set_lines(buf, 0, -1, false, vim.split(text, "\n", { plain = true }))
  vim.bo[buf].buftype = "nofile"
  vim.bo[buf].bufhidden = "wipe"
  vim.bo[buf].swapfile = false
  vim.bo[buf].modifiable = false
  vim.bo[buf].filetype = filetype
  pcall(vim.api.nvim_buf_set_name, buf, name)
  return buf
end

-- Commands -------------------------------------------------------------------------------------------

local function create_branch(bufnr, name)
  local argument = { name = name, uri = buffer_uri(bufnr) }
  return M.execute("pyengineer.createBranch", argument, function(result)
    -- Files are unchanged, but re-read any buffer whose file differs between the branches.
    pcall(vim.cmd, "checktime")
    say(result)
  end, bufnr)
end

--- :PyengineerBranch [name]: create a feature branch, keeping uncommitted changes. Without a name, asks
--- with the server's best suggestion filled in.
function M.branch(name, bufnr)
  bufnr = (bufnr == nil or bufnr == 0) and vim.api.nvim_get_current_buf() or bufnr
  if name and name ~= "" then
    return create_branch(bufnr, name)
  end
  return M.execute("pyengineer.suggestBranchNames", { uri = buffer_uri(bufnr) }, function(result)
    local names = type(result) == "table" and result.names or {}
    local current = type(result) == "table" and not is_null(result.current) and result.current or nil
    local prompt = current and ("New branch from '" .. current .. "': ") or "New branch: "
    vim.ui.input({ prompt = prompt, default = names[1] or "" }, function(input)
      if input and vim.trim(input) ~= "" then
        create_branch(bufnr, vim.trim(input))
      end
    end)
  end, bufnr)
end

local function window_showing(path)
  for _, win in ipairs(vim.api.nvim_list_wins()) do
    local name = vim.api.nvim_buf_get_name(vim.api.nvim_win_get_buf(win))
    if name ~= "" and vim.fn.fnamemodify(name, ":p") == vim.fn.fnamemodify(path, ":p") then
      return true
    end
  end
  return false
end

--- :PyengineerHandoff: write a hand-off note for ai-engineer about this file and open it.
function M.handoff(bufnr)
  bufnr = (bufnr == nil or bufnr == 0) and vim.api.nvim_get_current_buf() or bufnr
  local uri = buffer_uri(bufnr)
  if not uri then
    notify("save the buffer to a file first", vim.log.levels.WARN)
    return false
  end
  return M.execute("pyengineer.handoff", { uri = uri }, function(result)
    if type(result) == "table" and result.status == "ok" and type(result.path) == "string" then
      -- The server shows it with window/showDocument (our handler opens a split); open it only if not.
      if not window_showing(result.path) then
        vim.cmd("split " .. vim.fn.fnameescape(result.path))
      end
    end
    say(result)
  end, bufnr)
end

--- :[range]PyengineerAsk [question]: ask python-engineer about the file or the selected lines.
function M.ask(question, line1, line2, bufnr)
  bufnr = (bufnr == nil or bufnr == 0) and vim.api.nvim_get_current_buf() or bufnr
  local uri = buffer_uri(bufnr)
  if not uri then
    notify("save the buffer to a file first", vim.log.levels.WARN)
    return false
  end
  local function send(text)
    local argument = { uri = uri }
    if line1 and line2 then
      argument.range = { start = { line = line1 - 1, character = 0 }, ["end"] = { line = line2, character = 0 } }
    end
    if text and vim.trim(text) ~= "" then
      argument.question = vim.trim(text)
    end
    -- The server reports progress ($/progress); the answer is said once, from its typed result.
    M.execute("pyengineer.ask", argument, function(result)
      if type(result) ~= "table" then
        return
      end
      local explanation = type(result.explanation) == "string" and result.explanation or ""
      if vim.trim(explanation) ~= "" then
        -- Many lines of Markdown: a split, and one short line beside it.
        show_scratch("pyengineer://answer", "# python-engineer\n\n" .. explanation, "markdown")
      end
      -- The message names what to do here (":PyengineerApiKey" only when no key is set: the server knows).
      say(result)
    end, bufnr)
  end
  if question and question ~= "" then
    send(question)
  else
    vim.ui.input({ prompt = "Ask python-engineer (empty: review with fixes): " }, function(input)
      if input ~= nil then
        send(input)
      end
    end)
  end
  return true
end

--- :PyengineerTests [file|module|project]: run the tests for this file, its module, or the project.
function M.tests(scope, bufnr)
  bufnr = (bufnr == nil or bufnr == 0) and vim.api.nvim_get_current_buf() or bufnr
  scope = (scope and scope ~= "") and scope or "file"
  if scope ~= "file" and scope ~= "module" and scope ~= "project" then
    notify("scope must be file, module or project", vim.log.levels.ERROR)
    return false
  end
  if not M.config.trusted then
    notify("tests are not run in an untrusted workspace (setup{ trusted = false })", vim.log.levels.WARN)
    return false
  end
  -- Progress comes from the server ($/progress); the outcome is said once, from the typed result.
  return M.execute("pyengineer.runTests", { uri = buffer_uri(bufnr), scope = scope }, function(result)
    if type(result) ~= "table" then
      return
    end
    local output = type(result.output) == "string" and result.output or ""
    if result.status ~= "ok" and result.status ~= "cancelled" and vim.trim(output) ~= "" then
      -- pytest's output is many lines: a split, not the command line.
      show_scratch("pyengineer://tests", output, "")
    end
    say(result)
  end, bufnr)
end

--- :PyengineerContext: show the workspace context the server sees (markers, frameworks, ML files, git).
function M.context(bufnr)
  bufnr = (bufnr == nil or bufnr == 0) and vim.api.nvim_get_current_buf() or bufnr
  local uri = buffer_uri(bufnr)
  return M.execute("pyengineer.showContext", uri and { uri = uri } or vim.empty_dict(), function(result)
    show_scratch("pyengineer://context", pretty_json(result), "json")
  end, bufnr)
end

--- Sends a new API key (or nil to clear it) to every running server.
function M.set_api_key(key)
  M.config.api_key = key
  local clients = get_clients(nil)
  for _, client in ipairs(clients) do
    send_notification(client, "pyengineer/setApiKey", { apiKey = key or vim.NIL })
  end
  return #clients
end

-- Starting ---------------------------------------------------------------------------------------------

local function show_document(_, result, ctx)
  -- Ours on every version: Neovim's own (0.8+) opens the file in the current window, replacing the code the
  -- user was working on; 0.7 has none. A split keeps both.
  if type(result) ~= "table" or type(result.uri) ~= "string" then
    return { success = false }
  end
  local path = vim.uri_to_fname(result.uri)
  if not window_showing(path) then
    vim.cmd("split " .. vim.fn.fnameescape(path))
  end
  local _ = ctx
  return { success = true }
end

local function client_config(root)
  local settings = M.server_settings()
  -- `editor` tells the server to name our commands and setup() options in its advice (lsp/hints.py).
  local init_options = { settings = settings, trusted = M.config.trusted and true or false, editor = "neovim" }
  local key = api_key()
  if key then
    init_options.apiKey = key
  end
  local handlers = { ["pyengineer/status"] = on_status, ["window/showDocument"] = show_document }
  local config = {
    name = "pyengineer",
    cmd = M.server_cmd(),
    root_dir = root,
    workspace_folders = { { uri = vim.uri_from_fname(root), name = vim.fn.fnamemodify(root, ":t") } },
    init_options = init_options,
    settings = { pyengineer = settings },
    handlers = handlers,
    on_attach = M.config.on_attach,
    capabilities = M.config.capabilities,
  }
  return config
end

--- Starts (or reuses) the server for `bufnr` and attaches it. Returns the client id, or nil.
function M.attach(bufnr)
  bufnr = (bufnr == nil or bufnr == 0) and vim.api.nvim_get_current_buf() or bufnr
  local name = vim.api.nvim_buf_get_name(bufnr)
  if name == "" or vim.bo[bufnr].buftype ~= "" then
    return nil
  end
  local root = M.find_root(name)
  local cmd = M.server_cmd()
  if vim.fn.executable(cmd[1]) ~= 1 then
    -- Scheduled: reported as a message, not as an error inside the FileType autocommand.
    vim.schedule_wrap(notify)(
      "cannot start the server: '" .. cmd[1] .. "' is not executable. Install pyengineer from a clone of "
        .. "the repository (pipx install /path/to/pyengineer; see neovim/README.md) or set server_path / python in "
        .. "setup(); see :checkhealth pyengineer",
      vim.log.levels.ERROR
    )
    return nil
  end
  if vim.lsp.start then
    return vim.lsp.start(client_config(root), { bufnr = bufnr })
  end
  local id = clients_by_root[root]
  local client = id and vim.lsp.get_client_by_id(id)
  if not client or client.is_stopped() then
    id = vim.lsp.start_client(client_config(root))
    clients_by_root[root] = id
  end
  if id then
    vim.lsp.buf_attach_client(bufnr, id)
  end
  return id
end

--- Stops every pyengineer client and starts them again for the loaded buffers.
function M.restart()
  local ids = {}
  for _, client in ipairs(get_clients(nil)) do
    table.insert(ids, client.id)
    if has("nvim-0.11") then
      client:stop()
    else
      client.stop()
    end
  end
  clients_by_root = {}
  statuses = {}
  vim.wait(3000, function()
    for _, id in ipairs(ids) do
      local client = vim.lsp.get_client_by_id(id)
      if client and not (has("nvim-0.11") and client:is_stopped() or (not has("nvim-0.11") and client.is_stopped())) then
        return false
      end
    end
    return true
  end, 50)
  for _, buf in ipairs(vim.api.nvim_list_bufs()) do
    if vim.api.nvim_buf_is_loaded(buf) and vim.tbl_contains(M.config.filetypes, vim.bo[buf].filetype) then
      M.attach(buf)
    end
  end
end

local function define_commands()
  local command = vim.api.nvim_create_user_command
  command("PyengineerBranch", function(opts)
    M.branch(opts.args)
  end, { nargs = "?", desc = "pyengineer: create a feature branch (keeps your changes)" })
  command("PyengineerHandoff", function()
    M.handoff()
  end, { nargs = 0, desc = "pyengineer: hand this file off to ai-engineer" })
  command("PyengineerAsk", function(opts)
    if opts.range > 0 then
      M.ask(opts.args, opts.line1, opts.line2)
    else
      M.ask(opts.args)
    end
  end, { nargs = "?", range = true, desc = "pyengineer: ask python-engineer about the file or the lines" })
  command("PyengineerTests", function(opts)
    M.tests(opts.args)
  end, {
    nargs = "?",
    complete = function()
      return { "file", "module", "project" }
    end,
    desc = "pyengineer: run tests (file, module or project)",
  })
  command("PyengineerContext", function()
    M.context()
  end, { nargs = 0, desc = "pyengineer: show the project context" })
  command("PyengineerRestart", function()
    M.restart()
  end, { nargs = 0, desc = "pyengineer: restart the server" })
  command("PyengineerApiKey", function()
    local key = vim.fn.inputsecret("Anthropic API key (empty clears it): ")
    local running = M.set_api_key(key ~= "" and key or nil)
    -- inputsecret leaves the prompt on the command line: clear it, then say what happened once.
    vim.cmd("redraw")
    local what = key ~= "" and "API key set for this session" or "API key cleared"
    notify(what .. (running == 0 and " (no server is running yet; it gets the key when it starts)" or ""))
  end, { nargs = 0, desc = "pyengineer: set the Anthropic API key for this session" })
end

--- Configures pyengineer and starts it for Python buffers.
function M.setup(opts)
  M.config = vim.tbl_deep_extend("force", vim.deepcopy(defaults), opts or {})
  if opts and opts.settings then
    -- Lists in settings replace the defaults rather than merge index by index.
    M.config.settings = vim.deepcopy(opts.settings)
  end
  define_commands()
  augroup = vim.api.nvim_create_augroup("pyengineer", { clear = true })
  if M.config.autostart then
    vim.api.nvim_create_autocmd("FileType", {
      group = augroup,
      pattern = M.config.filetypes,
      callback = function(args)
        M.attach(args.buf)
      end,
      desc = "pyengineer: start the language server",
    })
    -- Buffers already open when setup() runs (lazy loading).
    for _, buf in ipairs(vim.api.nvim_list_bufs()) do
      if vim.api.nvim_buf_is_loaded(buf) and vim.tbl_contains(M.config.filetypes, vim.bo[buf].filetype) then
        M.attach(buf)
      end
    end
  end
  return M
end

return M
