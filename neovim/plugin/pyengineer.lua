-- pyengineer does nothing until require("pyengineer").setup({...}) is called. The plugin is the neovim/ folder
-- of the repository, so a plugin manager needs it on the runtimepath first (lazy.nvim's `opts = {}` alone cannot
-- find lua/pyengineer): see the tested setups in neovim/README.md.
if vim.g.loaded_pyengineer then
  return
end
vim.g.loaded_pyengineer = 1
