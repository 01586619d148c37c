-- :checkhealth pyengineer

local M = {}

local health = vim.health or require("health")
local start = health.start or health.report_start
local ok = health.ok or health.report_ok
local warn = health.warn or health.report_warn
local fail = health.error or health.report_error
local info = health.info or health.report_info

local function run(cmd)
  local output = vim.fn.system(cmd)
  return vim.v.shell_error, vim.trim(output or "")
end

--- The LLM agent: enabled, where its key comes from (never the key), the base URL, and what the server says.
function M.check_llm(plugin)
  start("pyengineer: LLM agent (python-engineer)")
  local settings = plugin.config.settings or {}
  local llm = type(settings.llm) == "table" and settings.llm or {}
  if llm.enabled == false then
    info("disabled in setup() (settings = { llm = { enabled = false } })")
    return
  end
  local key = plugin.config.api_key
  local source
  if type(key) == "function" then
    local ok_call, value = pcall(key)
    key = ok_call and value or nil
    source = "a function in setup()"
  else
    source = "setup() or :PyengineerApiKey"
  end
  if type(key) == "string" and key ~= "" then
    ok("API key set (from " .. source .. ", " .. #key .. " characters; not shown)")
  elseif (vim.env.ANTHROPIC_API_KEY or "") ~= "" then
    ok("API key set (from ANTHROPIC_API_KEY in Neovim's environment; not shown)")
  elseif (vim.env.ANTHROPIC_AUTH_TOKEN or "") ~= "" then
    ok("gateway token set (from ANTHROPIC_AUTH_TOKEN; not shown)")
  else
    warn("no Anthropic API key: the agent's actions are not offered", {
      "run :PyengineerApiKey (for this session), or pass api_key to setup() (a string or a function)",
      "or set ANTHROPIC_API_KEY before starting Neovim",
    })
  end
  local base_url = type(llm.baseUrl) == "string" and llm.baseUrl ~= "" and llm.baseUrl or nil
  if base_url then
    info("base URL: " .. base_url .. " (settings = { llm = { baseUrl = ... } } in setup())")
  elseif (vim.env.ANTHROPIC_BASE_URL or "") ~= "" then
    info("base URL: " .. vim.env.ANTHROPIC_BASE_URL .. " (ANTHROPIC_BASE_URL)")
  else
    info("base URL: the Anthropic API's default (set settings = { llm = { baseUrl = ... } } in setup() for a gateway)")
  end
  local status = plugin.status()
  if status and type(status.llm) == "table" then
    local reason = type(status.llm.reason) == "string" and status.llm.reason or ""
    if status.llm.available == true then
      ok("the server says: " .. reason)
    else
      warn("the server says: " .. reason)
    end
  end
end

function M.check()
  start("pyengineer")
  if vim.fn.has("nvim-0.7") ~= 1 then
    fail("Neovim 0.7 or newer is required")
    return
  end
  local version = vim.version()
  local how = vim.lsp.start and "vim.lsp.start" or "vim.lsp.start_client"
  ok(("Neovim %d.%d.%d (starts the server with %s)"):format(version.major, version.minor, version.patch, how))

  local plugin = require("pyengineer")
  local cmd = plugin.server_cmd()
  info("server command: " .. table.concat(cmd, " "))
  if vim.fn.executable(cmd[1]) ~= 1 then
    fail(
      "'" .. cmd[1] .. "' is not executable",
      {
        "Install pyengineer from a clone of the repository: pipx install /path/to/pyengineer (see neovim/README.md)",
        "or set server_path / python in setup()",
      }
    )
  elseif cmd[2] == "-m" then
    local code, output = run({ cmd[1], "-c", "import pyengineer; print(pyengineer.__version__)" })
    if code == 0 then
      ok("pyengineer " .. output .. " is installed in " .. cmd[1])
    else
      fail(
        "pyengineer is not installed in " .. cmd[1] .. ": " .. output:gsub("\n", " "):sub(-200),
        {
          cmd[1] .. " -m pip install /path/to/pyengineer (a clone of the repository; see neovim/README.md)",
          "or set server_path to a pyengineer executable",
        }
      )
    end
  else
    local code, output = run({ cmd[1], "--version" })
    if code == 0 then
      ok(cmd[1] .. " --version: " .. output)
    else
      warn(cmd[1] .. " --version failed: " .. output:sub(-200))
    end
  end

  if vim.fn.executable("git") == 1 then
    local _, output = run({ "git", "--version" })
    ok(output)
  else
    fail("git is not on PATH: pyengineer needs it to read and switch branches")
  end

  M.check_llm(plugin)

  local clients = plugin.clients()
  if #clients == 0 then
    info("no pyengineer server is running (open a Python file)")
  end
  for _, client in ipairs(clients) do
    local line = plugin.statusline()
    ok(("server running (client %d, root %s)%s"):format(
      client.id,
      tostring(client.config.root_dir),
      line ~= "" and (": " .. line) or ""
    ))
  end
end

return M
