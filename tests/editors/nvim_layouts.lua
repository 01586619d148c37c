-- The install snippets of neovim/README.md, run as written from a clone of the repository laid out where each
-- plugin manager puts it: `require("pyengineer")` loads from that clone and the server attaches.
--
-- Run by tests/editors/run-neovim.sh NVIM SERVER nvim_layouts.lua with PYENGINEER_LAYOUT set to the name of a
-- `<!-- layout: NAME -->` marker in neovim/README.md (lazy, vim.pack, rtp). Same environment as nvim_e2e.lua.
--
-- Neither lazy.nvim nor a Neovim with vim.pack (0.12) can be fetched on the test machines, so for those two the
-- test does what the manager does with the spec, and only that: lazy.nvim clones to stdpath("data")/lazy/<name>,
-- and on the spec's `ft` puts the clone on the runtimepath and calls config(plugin, opts); vim.pack.add clones
-- to stdpath("data")/site/pack/core/opt/<name> and runs :packadd. Where the real vim.pack exists it is used.

vim.g.loaded_python3_provider = 0
vim.opt.swapfile = false
vim.opt.shadafile = "NONE"

local plugin_dir = assert(os.getenv("PYENGINEER_PLUGIN"), "PYENGINEER_PLUGIN not set")
local server = assert(os.getenv("PYENGINEER_SERVER"), "PYENGINEER_SERVER not set")
local layout = assert(os.getenv("PYENGINEER_LAYOUT"), "PYENGINEER_LAYOUT not set")
local checkout = vim.fn.fnamemodify(plugin_dir, ":h") -- the repository the README belongs to

-- The shared check/report helpers, beside this script.
local tap = dofile(vim.fn.fnamemodify(debug.getinfo(1, "S").source:sub(2), ":h") .. "/tap.lua")
local out, check, finish = tap.out, tap.check, tap.finish

-- The server as a user installs it: `pyengineer` on PATH (the snippets pass no server_path). HOME is the test's
-- own, so the README's ~/src/pyengineer is a folder of this run.
vim.env.PATH = vim.fn.fnamemodify(server, ":h") .. ":" .. vim.env.PATH
vim.env.HOME = vim.fn.fnamemodify(vim.fn.stdpath("data"), ":h:h:h")

local function snippet(name)
  local lines = vim.fn.readfile(plugin_dir .. "/README.md")
  for i, line in ipairs(lines) do
    if line == "<!-- layout: " .. name .. " -->" then
      assert(lines[i + 1] == "```lua", "the marker must be followed by a lua block")
      local body = {}
      for j = i + 2, #lines do
        if lines[j] == "```" then
          return table.concat(body, "\n")
        end
        table.insert(body, lines[j])
      end
    end
  end
  error("neovim/README.md has no `<!-- layout: " .. name .. " -->` block")
end

local function clone(destination)
  vim.fn.mkdir(vim.fn.fnamemodify(destination, ":h"), "p")
  local output = vim.fn.system({ "git", "clone", "-q", checkout, destination })
  assert(vim.v.shell_error == 0, "git clone failed: " .. output)
  -- The clone has the committed plugin; the snippets under test are read from the working tree's README.
  return destination
end

local function compile(code)
  local chunk, problem = (loadstring or load)(code, "=README " .. layout)
  assert(chunk, problem)
  return chunk
end

local installed -- the clone the plugin must load from
local code = snippet(layout)
if layout == "lazy" then
  local spec = compile("return " .. code)()
  check("the spec names the repository", spec[1] == "pyengineer/pyengineer", tostring(spec[1]))
  installed = clone(vim.fn.stdpath("data") .. "/lazy/pyengineer")
  local plugin = { name = "pyengineer", dir = installed }
  local loaded = false
  vim.api.nvim_create_autocmd("FileType", {
    pattern = spec.ft,
    callback = function()
      if loaded then
        return
      end
      loaded = true
      vim.opt.rtp:prepend(plugin.dir)
      for _, file in ipairs(vim.fn.glob(plugin.dir .. "/plugin/**/*.{vim,lua}", false, true)) do
        vim.cmd("source " .. vim.fn.fnameescape(file))
      end
      assert(type(spec.config) == "function", "lazy.nvim would call require(<main>).setup(opts), and there is no lua/ at the root")
      spec.config(plugin, spec.opts or {})
    end,
  })
elseif layout == "vim.pack" then
  installed = vim.fn.stdpath("data") .. "/site/pack/core/opt/pyengineer"
  if not (vim.pack and vim.pack.add) then
    vim.pack = {
      add = function(specs)
        for _, src in ipairs(specs) do
          local name = (type(src) == "table" and src.src or src):gsub("/+$", ""):match("([^/]+)$")
          check("vim.pack.add names the repository", name == "pyengineer", name)
          clone(vim.fn.stdpath("data") .. "/site/pack/core/opt/" .. name)
          vim.cmd("packadd " .. name)
        end
      end,
    }
  end
  compile(code)()
elseif layout == "rtp" then
  installed = clone(vim.fn.expand("~/src/pyengineer"))
  compile(code)()
else
  error("unknown PYENGINEER_LAYOUT " .. layout)
end

local function run()
  local bufnr = vim.api.nvim_get_current_buf()
  local ok, pyengineer = pcall(require, "pyengineer")
  if not check("require('pyengineer') works", ok, pyengineer) then
    return finish()
  end
  local source = debug.getinfo(pyengineer.setup, "S").source
  check("the plugin is loaded from the clone", source:find(installed, 1, true) ~= nil, source .. " not in " .. installed)
  local attached = vim.wait(20000, function()
    return #pyengineer.clients(bufnr) > 0
  end, 50)
  if not check("the server attaches to the Python buffer", attached, vim.bo[bufnr].filetype) then
    return finish()
  end
  local arrived = vim.wait(45000, function()
    for _, d in ipairs(vim.diagnostic.get(bufnr)) do
      if d.source == "pyengineer" then
        return true
      end
    end
    return false
  end, 50)
  check("its diagnostics arrive", arrived, vim.inspect(vim.diagnostic.get(bufnr)))
  finish()
end

vim.api.nvim_create_autocmd("VimEnter", {
  once = true,
  callback = function()
    vim.schedule(run)
  end,
})
